// Package docker is the project's one Docker Engine client: the sampler's
// container targets, the report's Docker collector and sre-heal's container
// actions all reach the daemon through it, each through a small interface
// of its own. It wraps the maintained client (github.com/moby/moby/client)
// configured like the docker CLI from DOCKER_HOST, DOCKER_CERT_PATH,
// DOCKER_TLS_VERIFY and DOCKER_API_VERSION, with the API version
// negotiated with the daemon, and adds what the tools need on top: bounded
// log reads, container names checked before use, and an events follower
// that survives the daemon going away.
package docker
