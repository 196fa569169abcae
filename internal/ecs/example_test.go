package ecs_test

import (
	"encoding/json"
	"fmt"

	"github.com/localsre/sre-agent/internal/ecs"
)

// A crash event as ECS: host and process.user become objects, ts and msg
// take their ECS names, and what ECS has no name for stays under sre.
func ExampleConvert() {
	line := `{"v":1,"kind":"event","ts":"2026-11-27T03:41:11.260101000Z","host":"web1","src":"sre-detect",` +
		`"id":"0193d2a1c4e07a3b","type":"crash","severity":"critical","target":"api","msg":"api (pid 4242) was killed by SIGKILL.",` +
		`"process":{"pid":4242,"ppid":1,"start":"2026-11-27T03:00:00.000000000Z","start_ticks":987654,"name":"api","user":"www-data","uid":33,"state":"S","cpu_time_s":1.5,"rss_bytes":52428800,"vms_bytes":209715200,"threads":4}}`
	doc, err := ecs.Convert([]byte(line))
	if err != nil {
		fmt.Println(err)
		return
	}
	out, _ := json.MarshalIndent(doc, "", "  ")
	fmt.Println(string(out))
	// Output:
	// {
	//   "@timestamp": "2026-11-27T03:41:11.260101000Z",
	//   "ecs": {
	//     "version": "8.17.0"
	//   },
	//   "event": {
	//     "action": "crash",
	//     "category": [
	//       "process"
	//     ],
	//     "dataset": "sre.event",
	//     "id": "0193d2a1c4e07a3b",
	//     "kind": "alert",
	//     "module": "sre",
	//     "provider": "sre-detect",
	//     "severity": 2,
	//     "type": [
	//       "end"
	//     ]
	//   },
	//   "host": {
	//     "name": "web1"
	//   },
	//   "labels": {
	//     "target": "api"
	//   },
	//   "log": {
	//     "level": "critical"
	//   },
	//   "message": "api (pid 4242) was killed by SIGKILL.",
	//   "process": {
	//     "entity_id": "web1/4242@987654",
	//     "name": "api",
	//     "parent": {
	//       "pid": 1
	//     },
	//     "pid": 4242,
	//     "start": "2026-11-27T03:00:00.000000000Z",
	//     "user": {
	//       "id": "33",
	//       "name": "www-data"
	//     }
	//   },
	//   "service": {
	//     "name": "api"
	//   },
	//   "sre": {
	//     "kind": "event",
	//     "process": {
	//       "cpu_time_s": 1.5,
	//       "rss_bytes": 52428800,
	//       "start_ticks": 987654,
	//       "state": "S",
	//       "threads": 4,
	//       "vms_bytes": 209715200
	//     },
	//     "v": 1
	//   }
	// }
}
