package heal

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseIssueExample(t *testing.T) {
	data, err := os.ReadFile("../../testdata/heal/rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rs, err := Parse("rules.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	r := rs.Get("restart-api")
	want := Backoff{Initial: time.Second, Factor: 2, Max: 5 * time.Minute, Jitter: 0.1, ResetAfter: 10 * time.Minute}
	if diff := cmp.Diff(want, r.Backoff); diff != "" {
		t.Errorf("backoff (-want +got):\n%s", diff)
	}
	got := []any{r.On, r.Target, r.Command, r.Cwd, r.Env, r.Log, r.StartCheck, r.MaxRetries, r.RetryWindow, r.Cooldown, r.Escalate, r.Line, r.Col}
	wantAll := []any{[]string{"crash", "absent"}, "api", []string{"/opt/api/bin/api", "--config", "/etc/api.yaml"}, "/opt/api",
		map[string]string{"GOMAXPROCS": "2"}, "/var/log/api.log", 5 * time.Second, 3, 600 * time.Second, 60 * time.Second, "notify-oncall", 2, 5}
	if diff := cmp.Diff(wantAll, got); diff != "" {
		t.Errorf("rule (-want +got):\n%s", diff)
	}
	if n := rs.Get("notify-oncall"); n == nil || len(n.On) != 0 || n.MaxRetries != 0 {
		t.Errorf("notify-oncall: %+v", n)
	}
	if u := rs.Get("restart-unit"); u.Systemctl != DefaultSystemctl {
		t.Errorf("systemctl default: %q", u.Systemctl)
	}
}

const okRule = "rules:\n  - name: a\n    on: [crash]\n    action: run\n    command: [\"/bin/true\"]\n    max_retries: 2\n"

// ctrRule is a restart_container rule with extra keys.
func ctrRule(extra string) string {
	return "rules:\n  - name: c\n    on: [crash]\n    action: restart_container\n" + extra + "    max_retries: 2\n"
}

func TestParseContainerRule(t *testing.T) {
	rs, err := Parse("r.yaml", []byte(ctrRule("    container: [web, 0123abcd]\n    container_label: com.docker.compose.service=api\n    stop_timeout_seconds: 3\n    capture: best_effort\n    capture_lines: 20\n")))
	if err != nil {
		t.Fatal(err)
	}
	r := rs.Rules[0]
	got := []any{r.Containers, r.ContainerLabel, r.StopTimeout, r.CaptureBestEff, r.CaptureLines}
	want := []any{[]string{"web", "0123abcd"}, "com.docker.compose.service=api", 3, true, 20}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("-want +got:\n%s", diff)
	}
	rs, err = Parse("r.yaml", []byte(ctrRule("    container: web\n")))
	if err != nil {
		t.Fatal(err)
	}
	if r := rs.Rules[0]; r.StopTimeout != DefaultStopTimeout || r.CaptureLines != DefaultCaptureLines || r.CaptureBestEff {
		t.Errorf("defaults: %+v", r)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown key", okRule + "    bogus: 1\n", "r.yaml:7:5: unknown field \"bogus\""},
		{"unknown key in backoff", okRule + "    backoff: {initial: 1s, maxx: 2s}\n", "r.yaml:7:28: unknown field \"maxx\""},
		{"wrong type", strings.Replace(okRule, "max_retries: 2", "max_retries: two", 1), "r.yaml:6:18: cannot unmarshal string where the rules file wants int"},
		{"command not a list", strings.Replace(okRule, `["/bin/true"]`, `/bin/true`, 1), "r.yaml:5:14: "},
		{"zero cooldown unlimited retries", strings.Replace(okRule, "    max_retries: 2\n", "", 1), "r.yaml:2:5: rule \"a\": unlimited retries"},
		{"explicit zero retries", strings.Replace(okRule, "max_retries: 2", "max_retries: 0", 1), "r.yaml:6:18: rule \"a\": unlimited retries"},
		{"max < initial", okRule + "    backoff: {initial: 5s, max: 1s}\n", "r.yaml:7:33: rule \"a\": backoff.max 1s is less than backoff.initial 5s"},
		{"bad duration", okRule + "    backoff: {initial: soon}\n", "r.yaml:7:24: rule \"a\": backoff.initial \"soon\": not a duration"},
		{"relative command", strings.Replace(okRule, `/bin/true`, `true`, 1), "r.yaml:5:14: rule \"a\": command[0] \"true\": must be an absolute path"},
		{"missing command", strings.Replace(okRule, "    command: [\"/bin/true\"]\n", "", 1), "r.yaml:2:5: rule \"a\": action run: command: missing"},
		{"placeholder in program", strings.Replace(okRule, `/bin/true`, `/bin/{target}`, 1), "r.yaml:5:14: rule \"a\": command[0] \"/bin/{target}\": placeholders are not allowed"},
		{"unknown action", strings.Replace(okRule, "action: run", "action: reboot", 1), "r.yaml:4:13: rule \"a\": action \"reboot\": unknown (one of restart_container, restart_pod, restart_process, rollout_restart, run, scale, signal, start_container, stop_container, systemd_restart)"},
		{"missing action", strings.Replace(okRule, "    action: run\n", "", 1), "r.yaml:2:5: rule \"a\": action: missing"},
		{"escalate missing", okRule + "    escalate: nobody\n", "r.yaml:7:15: rule \"a\": escalate names \"nobody\", which is not a rule"},
		{"escalate self", okRule + "    escalate: a\n", "r.yaml:7:15: rule \"a\": escalates to itself"},
		{"empty name", strings.Replace(okRule, "name: a", "name: \"\"", 1), "r.yaml:2:11: rule 1: name: empty"},
		{"duplicate name", okRule + strings.TrimPrefix(okRule, "rules:\n"), "r.yaml:7:11: rule \"a\": duplicate name (first at line 2)"},
		{"bad event type", strings.Replace(okRule, "[crash]", "[Crash!]", 1), "r.yaml:3:9: rule \"a\": on: \"Crash!\" is not an event type"},
		{"bad when", okRule + "    when: '.detail |||'\n", "r.yaml:7:11: rule \"a\": when: "},
		{"relative cwd", okRule + "    cwd: here\n", "r.yaml:7:10: rule \"a\": cwd \"here\": must be an absolute path"},
		{"bad jitter", okRule + "    backoff: {jitter: 1.5}\n", "r.yaml:7:23: rule \"a\": backoff.jitter 1.5"},
		{"negative cooldown", okRule + "    cooldown_seconds: -1\n", "r.yaml:7:23: rule \"a\": cooldown_seconds: must be >= 0"},
		{"signal unknown", "rules:\n  - name: s\n    on: [leak_suspected]\n    action: signal\n    signal: NOPE\n    cooldown_seconds: 5\n", "r.yaml:5:13: rule \"s\": signal \"NOPE\""},
		{"signal with command", "rules:\n  - name: s\n    on: [x]\n    action: signal\n    signal: HUP\n    command: [/bin/kill]\n    cooldown_seconds: 5\n", "r.yaml:6:14: rule \"s\": action signal: command: not used"},
		{"systemd bad unit", "rules:\n  - name: u\n    on: [crash]\n    action: systemd_restart\n    unit: '--no-block'\n    max_retries: 1\n", "r.yaml:5:11: rule \"u\": unit \"--no-block\": not a systemd unit name"},
		{"systemd no unit", "rules:\n  - name: u\n    on: [crash]\n    action: systemd_restart\n    max_retries: 1\n", "r.yaml:2:5: rule \"u\": action systemd_restart: unit: missing"},
		{"container like a flag", ctrRule("    container: \"-x\"\n"), "r.yaml:5:16: rule \"c\": container \"-x\": not a Docker container name or id prefix ([a-zA-Z0-9][a-zA-Z0-9_.-]*)"},
		{"container like a flag in a list", ctrRule("    container: [web, \"--rm\"]\n"), "r.yaml:5:16: rule \"c\": container \"--rm\": not a Docker container name"},
		{"container with a slash", ctrRule("    container: ../info\n"), "r.yaml:5:16: rule \"c\": container \"../info\": not a Docker container name"},
		{"container missing", ctrRule(""), "r.yaml:2:5: rule \"c\": action restart_container: container: missing"},
		{"container not a name", ctrRule("    container: {a: 1}\n"), "r.yaml:5:16: container: want a container name"},
		{"container bad label", ctrRule("    container_label: \"=x\"\n"), "r.yaml:5:22: rule \"c\": container_label \"=x\": want KEY or KEY=VALUE"},
		{"container bad capture", ctrRule("    container: web\n    capture: sometimes\n"), "r.yaml:6:14: rule \"c\": capture \"sometimes\": want required"},
		{"container negative stop timeout", ctrRule("    container: web\n    stop_timeout_seconds: -1\n"), "r.yaml:6:27: rule \"c\": stop_timeout_seconds -1: must be between 0 and 3600"},
		{"container zero capture lines", ctrRule("    container: web\n    capture_lines: 0\n"), "r.yaml:6:20: rule \"c\": capture_lines 0: must be between 1"},
		{"container with command", ctrRule("    container: web\n    command: [/bin/true]\n"), "r.yaml:6:14: rule \"c\": action restart_container: command: not used"},
		{"stop timeout on start", strings.Replace(ctrRule("    container: web\n    stop_timeout_seconds: 5\n"), "restart_container", "start_container", 1), "r.yaml:6:27: rule \"c\": stop_timeout_seconds: not used by start_container"},
		{"container key on a process action", okRule + "    container: web\n", "r.yaml:7:16: rule \"a\": container: only for restart_container, stop_container and start_container"},
		{"duplicate key", strings.Replace(okRule, "    on:", "    name: b\n    on:", 1), "r.yaml:3:5: mapping key \"name\" already defined"},
		{"empty file", "", "r.yaml:1:1: no rules"},
		{"no rules", "rules: []\n", "r.yaml:1:8: no rules"},
		{"syntax", "rules:\n  - name: [a\n", "r.yaml:2:"},
		{"not a mapping", "a\n", "r.yaml:1:1: "},
		{"list entry not a mapping", "- a\n", "r.yaml:1:3: string was used where mapping is expected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("r.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error:\n got %q\nwant prefix %q", err, tt.want)
			}
			if !errors.Is(err, ErrRules) {
				t.Errorf("error does not wrap ErrRules")
			}
		})
	}
}

func TestCheckFileSafe(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte(okRule), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := CheckFileSafe(good); err != nil {
		t.Errorf("0600 own file: %v", err)
	}
	for _, mode := range []os.FileMode{0o620, 0o602, 0o666} {
		p := filepath.Join(dir, "w.yaml")
		os.WriteFile(p, []byte(okRule), 0o600)
		os.Chmod(p, mode)
		if err := CheckFileSafe(p); err == nil || !strings.Contains(err.Error(), "writable") {
			t.Errorf("mode %o: %v, want refusal", mode, err)
		}
	}
	link := filepath.Join(dir, "link.yaml")
	if err := os.Symlink(good, link); err != nil {
		t.Fatal(err)
	}
	if err := CheckFileSafe(link); err == nil || !strings.Contains(err.Error(), "symlink") {
		t.Errorf("symlink: %v, want refusal", err)
	}
	if os.Geteuid() == 0 {
		other := filepath.Join(dir, "other.yaml")
		os.WriteFile(other, []byte(okRule), 0o600)
		if err := os.Chown(other, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		if err := CheckFileSafe(other); err == nil || !strings.Contains(err.Error(), "owned by uid 65534") {
			t.Errorf("other owner: %v, want refusal", err)
		}
	}
}

// seedRule is the example rule users bring: a scalar on, no name, and the
// budget spelled max_retries and cooldown_seconds.
const seedRule = "rules:\n  - on: crash\n    action: restart_process\n    max_retries: 3\n    cooldown_seconds: 60\n"

func TestParseSeedForm(t *testing.T) {
	cmd := "    command: [\"/usr/local/bin/api\", \"--port\", \"8080\"]\n"
	type got struct {
		Name        string
		On          []string
		Command     []string
		MaxRetries  int
		RetryWindow time.Duration
		Cooldown    time.Duration
		Backoff     Backoff
	}
	seed := got{Name: "restart_process-on-crash", On: []string{"crash"}, Command: []string{"/usr/local/bin/api", "--port", "8080"},
		MaxRetries: 3, RetryWindow: DefaultRetryWindow, Cooldown: 60 * time.Second, Backoff: DefaultBackoff}
	tests := []struct {
		name, yaml string
		want       []got
	}{
		{"under rules", seedRule + cmd, []got{seed}},
		{"a bare list", strings.ReplaceAll(strings.TrimPrefix(seedRule+cmd, "rules:\n  "), "\n  ", "\n"), []got{seed}},
		{"a bare list, indented", strings.TrimPrefix(seedRule+cmd, "rules:\n"), []got{seed}},
		{"on as a list", strings.Replace(seedRule, "on: crash", "on: [crash, absent]", 1) + cmd,
			[]got{func() got {
				g := seed
				g.Name, g.On = "restart_process-on-crash+absent", []string{"crash", "absent"}
				return g
			}()}},
		{"two unnamed alike", seedRule + cmd + strings.TrimPrefix(seedRule+cmd, "rules:\n"),
			[]got{seed, func() got { g := seed; g.Name = "restart_process-on-crash-2"; return g }()}},
		{"a name given", strings.Replace(seedRule, "  - on:", "  - name: api\n    on:", 1) + cmd,
			[]got{func() got { g := seed; g.Name = "api"; return g }()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := Parse("r.yaml", []byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			var out []got
			for _, r := range rs.Rules {
				out = append(out, got{r.Name, r.On, r.Command, r.MaxRetries, r.RetryWindow, r.Cooldown, r.Backoff})
				if rs.Get(r.Name) != r {
					t.Errorf("Get(%q) does not find the rule", r.Name)
				}
			}
			if diff := cmp.Diff(tt.want, out); diff != "" {
				t.Errorf("rules (-want +got):\n%s", diff)
			}
		})
	}
}

// The seed's rule as it stands lacks the command: one error, at the rule,
// that shows the complete form, which is itself accepted.
func TestParseSeedFormNeedsCommand(t *testing.T) {
	_, err := Parse("rules.yaml", []byte(seedRule))
	want := `rules.yaml:2:5: rule "restart_process-on-crash": action restart_process: command: missing; ` +
		`sre-heal never guesses a program from what it observed: give the argv, with an absolute program path, as in ` +
		`rules: [{on: crash, action: restart_process, command: ["/path/to/program", "arg"], max_retries: 3, cooldown_seconds: 60}]`
	if err == nil || err.Error() != want {
		t.Fatalf("error:\n got %v\nwant %s", err, want)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error spans lines: %q", err)
	}
	form := want[strings.Index(want, "rules: [{"):]
	rs, err := Parse("form.yaml", []byte(form))
	if err != nil {
		t.Fatalf("the form the error shows is refused: %v", err)
	}
	r := rs.Rules[0]
	if r.Name != "restart_process-on-crash" || r.MaxRetries != 3 || r.Cooldown != time.Minute || r.Command[0] != "/path/to/program" {
		t.Errorf("the form parses to %+v", r)
	}
	// With a target and several events the form keeps them.
	_, err = Parse("r.yaml", []byte("- {on: [crash, absent], target: \"my app\", action: restart_process, max_retries: 2}\n"))
	if err == nil || !strings.HasSuffix(err.Error(), `as in rules: [{on: [crash, absent], target: "my app", action: restart_process, command: ["/path/to/program", "arg"], max_retries: 2}]`) {
		t.Errorf("error: %v", err)
	}
}

func TestParseOnErrors(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"number", strings.Replace(seedRule, "on: crash", "on: 5", 1), "r.yaml:2:9: on: want an event type (on: crash) or a list of them"},
		{"mapping", strings.Replace(seedRule, "on: crash", "on: {a: b}", 1), "r.yaml:2:9: on: want an event type"},
		{"list entry", strings.Replace(seedRule, "on: crash", "on: [crash, 1]", 1), "r.yaml:2:17: on: each entry must be an event type name"},
		{"not a type", strings.Replace(seedRule, "on: crash", "on: Crash!", 1), "r.yaml:2:9: rule \"restart_process-on-Crash!\": on: \"Crash!\" is not an event type"},
		{"unnamed escalation target", "rules:\n  - on: []\n    action: run\n    command: [/bin/true]\n", "r.yaml:2:5: rule 1: name: missing; a rule without on: is reached only by escalate:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("r.yaml", []byte(tt.yaml))
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("error:\n got %v\nwant prefix %s", err, tt.want)
			}
			if !errors.Is(err, ErrRules) {
				t.Errorf("error does not wrap ErrRules")
			}
		})
	}
}

// TestDocsEveryKeyParses: the "Every key" example of docs/heal.md, which
// shows every action's keys (containers' too), is a rules file that loads.
func TestDocsEveryKeyParses(t *testing.T) {
	b, err := os.ReadFile("../../docs/heal.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(b), "Every key:\n\n```yaml\n")
	if !ok {
		t.Fatal(`docs/heal.md: no "Every key:" yaml block`)
	}
	block, _, _ := strings.Cut(after, "```")
	rs, err := Parse("docs/heal.md", []byte(block))
	if err != nil {
		t.Fatalf("the docs' example does not load: %v", err)
	}
	actions := map[string]bool{}
	for _, r := range rs.Rules {
		actions[r.Action] = true
	}
	for _, a := range []string{"restart_process", "run", "signal", "systemd_restart", "restart_container"} {
		if !actions[a] {
			t.Errorf("the example shows no %s rule", a)
		}
	}
}
