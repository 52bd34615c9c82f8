// Package api is the admin API's wire format and its client: the JSON bodies of
// `GET /v1/status` and `/v1/members` and of the operator verbs (join, leave,
// transfer, drain, force-leave), and Client, which speaks them over the agent's unix
// socket or its TCP listener with a bearer token.
//
// Field names and JSON tags are a contract that scripts and other tools rely on: add
// fields, never rename them. api holds no logic of the running node and must not
// import cluster; the server side lives in cluster's admin.go.
package api
