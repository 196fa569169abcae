// Package ecs turns schema-v1 records into Elastic Common Schema (ECS)
// documents, so the event stream indexes into an ECS template as it is.
//
// Schema v1 stays what it is; this is a view of it. Fields that have an ECS
// home move there (ts → @timestamp, msg → message, host → host.name,
// process.user → process.user.name, …), every record gets the ECS
// categorisation fields (event.kind, event.category, event.type,
// event.dataset, log.level, event.severity), and every other field — the
// ones ECS has no name for, and any field a newer tool or jq added — stays
// under the sre object with its v1 name, so nothing is lost: sre.v and
// sre.kind are kept there too. docs/shipping.md has the whole table.
package ecs
