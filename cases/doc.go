// Package cases is the vocabulary that crosses package lines: a case and
// its timeline, a contact, a leg, a queue's and an agent's configuration,
// the events the router publishes, the snapshot it is restored from, and
// the errors every layer maps. It holds types, their defaults and their
// validation, and no behaviour: the router owns what happens to them, and
// the durable log, the statistics and the adapters read them without
// depending on the router.
package cases
