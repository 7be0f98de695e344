package router

import (
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	memdb "github.com/hashicorp/go-memdb"
)

// Table names.
const (
	tableQueues   = "queues"
	tableAgents   = "agents"
	tableContacts = "contacts"
	tableCases    = "cases"
	tableMembers  = "members"
	// Contacts in the few states a secondary index asks about, each table
	// holding the same rows as tableContacts (see heldTableSchema).
	tableHeldFor = "held_for"
	tableBooked  = "booked"
)

// Index names. Each answers one question the router asks on a hot path.
const (
	indexID = "id"

	indexContactReserved = "reserved" // contacts: waiting, held for one agent
	indexContactSlot     = "slot"     // contacts: booked callbacks of a queue by slot
	indexContactBooking  = "booking"  // contacts: a caller's one booked callback

)

// maxPriority bounds EnqueueRequest.Priority so the rank key stays fixed-width.
const maxPriority = 1000

// schema is the whole memdb schema of the router.
func schema() *memdb.DBSchema {
	return &memdb.DBSchema{Tables: map[string]*memdb.TableSchema{
		tableQueues:   queuesTableSchema(),
		tableAgents:   agentsTableSchema(),
		tableContacts: contactsTableSchema(),
		tableCases:    casesTableSchema(),
		tableMembers:  membersTableSchema(),
		tableHeldFor:  heldForTableSchema(),
		tableBooked:   bookedTableSchema(),
	}}
}

func queuesTableSchema() *memdb.TableSchema {
	return &memdb.TableSchema{Name: tableQueues, Indexes: map[string]*memdb.IndexSchema{
		indexID: {Name: indexID, Unique: true, AllowMissing: false,
			Indexer: idIndex("ID", func(o any) string { return o.(*queueRow).ID })},
	}}
}

func agentsTableSchema() *memdb.TableSchema {
	return &memdb.TableSchema{Name: tableAgents, Indexes: map[string]*memdb.IndexSchema{
		indexID: {Name: indexID, Unique: true, AllowMissing: false,
			Indexer: idIndex("Username", func(o any) string { return o.(*agentRow).Username })},
	}}
}

func contactsTableSchema() *memdb.TableSchema {
	return &memdb.TableSchema{Name: tableContacts, Indexes: map[string]*memdb.IndexSchema{
		indexID: {Name: indexID, Unique: true, AllowMissing: false,
			Indexer: idIndex("ID", func(o any) string { return o.(*contactRow).ID })},
	}}
}

// heldForTableSchema and bookedTableSchema hold the contact rows that the
// reserved, slot and booking indexes find, and no others: go-memdb writes
// every index of a table on every row write (each one a radix transaction
// and a path in the root tree at commit, present key or not), and a
// contact row is written about four times per routed contact while very
// few contacts are ever held for an agent or booked into a slot. So these
// keys are tables of their own, written only when a contact enters, leaves
// or changes in one of those states (sideTables, writer.flush).
func heldForTableSchema() *memdb.TableSchema {
	return &memdb.TableSchema{Name: tableHeldFor, Indexes: map[string]*memdb.IndexSchema{
		indexID: {Name: indexID, Unique: true, AllowMissing: false,
			Indexer: idIndex("ID", func(o any) string { return o.(*contactRow).ID })},
		indexContactReserved: {Name: indexContactReserved, Unique: false, AllowMissing: false,
			Indexer: &keyIndex{desc: "(reserved agent) while queued", key: contactReservedKey}},
	}}
}

func bookedTableSchema() *memdb.TableSchema {
	return &memdb.TableSchema{Name: tableBooked, Indexes: map[string]*memdb.IndexSchema{
		indexID: {Name: indexID, Unique: true, AllowMissing: false,
			Indexer: idIndex("ID", func(o any) string { return o.(*contactRow).ID })},
		indexContactSlot: {Name: indexContactSlot, Unique: false, AllowMissing: false,
			Indexer: &keyIndex{desc: "(queue, slot start) while scheduled in a booked slot", key: contactSlotKey}},
		indexContactBooking: {Name: indexContactBooking, Unique: true, AllowMissing: true,
			Indexer: &keyIndex{desc: "(identity) while scheduled in a booked slot", key: contactBookingKey}},
	}}
}

// sideTables are the contact tables beside tableContacts.
func sideTables() [2]string { return [2]string{tableHeldFor, tableBooked} }

// sideHolds reports whether a contact row belongs in the side table.
func sideHolds(table string, c *contactRow) bool {
	if c == nil {
		return false
	}
	var ok bool
	switch table {
	case tableHeldFor:
		_, ok = contactReservedKey(c)
	case tableBooked:
		_, ok = contactSlotKey(c)
	}
	return ok
}

// inSideTable reports whether c belongs in any side table.
func inSideTable(c *contactRow) bool {
	for _, t := range sideTables() {
		if sideHolds(t, c) {
			return true
		}
	}
	return false
}

func casesTableSchema() *memdb.TableSchema {
	return &memdb.TableSchema{Name: tableCases, Indexes: map[string]*memdb.IndexSchema{
		indexID: {Name: indexID, Unique: true, AllowMissing: false,
			Indexer: idIndex("ID", func(o any) string { return o.(*caseRow).ID })},
	}}
}

// membersTableSchema is queue membership, one row per (queue, agent),
// keyed so that a queue id lists its members in username order. It is a
// table rather than an index of the agents table because membership
// changes only with an agent's profile, while the agent row is written
// on every offer and end, and an index is written with every row.
func membersTableSchema() *memdb.TableSchema {
	return &memdb.TableSchema{Name: tableMembers, Indexes: map[string]*memdb.IndexSchema{
		indexID: {Name: indexID, Unique: true, AllowMissing: false,
			Indexer: &keyIndex{desc: "(queue, username)", key: func(o any) ([]string, bool) {
				m := o.(*memberRow)
				return []string{m.Queue, m.Username}, true
			}}},
	}}
}

// Computed index keys. A key is a list of parts; see encodeKey.

func contactSlotKey(obj any) ([]string, bool) {
	c := obj.(*contactRow)
	if c.Status != StatusScheduled || !c.Slot {
		return nil, false
	}
	return []string{c.Queue, sortableTime(c.Due)}, true
}

func contactBookingKey(obj any) ([]string, bool) {
	c := obj.(*contactRow)
	if c.Status != StatusScheduled || !c.Slot || c.Identity == "" {
		return nil, false
	}
	return []string{c.Identity}, true
}

func contactReservedKey(obj any) ([]string, bool) {
	c := obj.(*contactRow)
	if c.Reserved == "" || c.Status != StatusQueued {
		return nil, false
	}
	return []string{c.Reserved}, true
}

// sortableTime renders t so that byte order is time order.
func sortableTime(t time.Time) string {
	n := t.UnixNano()
	if n < 0 {
		n = 0
	}
	return fmt.Sprintf("%020d", n)
}

// encodeKey joins key parts, each terminated by a NUL byte. Because every
// part is terminated, a query with the first parts only (a queue id) is an
// exact prefix of the full keys and never matches a longer queue id; memdb's
// Get iterates by prefix, so Get(table, index, queue) lists one queue in key
// order. Parts never contain NUL: ids are validated.
func encodeKey(parts ...string) []byte {
	n := 0
	for _, p := range parts {
		n += len(p) + 1
	}
	b := make([]byte, 0, n)
	for _, p := range parts {
		b = append(b, p...)
		b = append(b, 0)
	}
	return b
}

func keyFromArgs(args []any) ([]byte, error) {
	parts := make([]string, len(args))
	for i, a := range args {
		s, ok := a.(string)
		if !ok {
			return nil, fmt.Errorf("argument %d: want a string, got %T", i, a)
		}
		parts[i] = s
	}
	return encodeKey(parts...), nil
}

// idIndex indexes a row by one string field, read by a typed function
// rather than memdb's reflection (which showed in the write path's
// profile). The key is the field NUL-terminated, as memdb's own
// StringFieldIndex makes it.
func idIndex(field string, get func(obj any) string) *keyIndex {
	return &keyIndex{desc: "string field " + field, key: func(obj any) ([]string, bool) { return []string{get(obj)}, true }}
}

// intIndex indexes a row by an int64 field in numeric order (the sign bit
// flipped, big-endian: memdb's IntFieldIndex encoding, without reflection).
type intIndex struct {
	field string
	value func(obj any) int64
}

func encodeInt64(v int64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, uint64(v)^(1<<63))
	return b
}

// FromObject implements memdb.SingleIndexer.
func (i *intIndex) FromObject(obj any) (bool, []byte, error) {
	return true, encodeInt64(i.value(obj)), nil
}

// FromArgs implements memdb.Indexer: one int64.
func (i *intIndex) FromArgs(args ...any) ([]byte, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("%s: want one argument, got %d", i.field, len(args))
	}
	v, ok := args[0].(int64)
	if !ok {
		return nil, fmt.Errorf("%s: want an int64, got %T", i.field, args[0])
	}
	return encodeInt64(v), nil
}

// keyIndex indexes a row by one computed key; rows for which key reports
// false are left out (the index must then allow missing values).
type keyIndex struct {
	desc string
	key  func(obj any) ([]string, bool)
}

// FromObject implements memdb.SingleIndexer.
func (k *keyIndex) FromObject(obj any) (bool, []byte, error) {
	parts, ok := k.key(obj)
	if !ok {
		return false, nil, nil
	}
	return true, encodeKey(parts...), nil
}

// FromArgs implements memdb.Indexer: the arguments are leading key parts.
func (k *keyIndex) FromArgs(args ...any) ([]byte, error) { return keyFromArgs(args) }

// multiKeyIndex indexes a row under several computed keys.
type multiKeyIndex struct {
	desc string
	keys func(obj any) [][]string
}

// FromObject implements memdb.MultiIndexer.
func (k *multiKeyIndex) FromObject(obj any) (bool, [][]byte, error) {
	keys := k.keys(obj)
	if len(keys) == 0 {
		return false, nil, nil
	}
	out := make([][]byte, len(keys))
	for i, parts := range keys {
		out[i] = encodeKey(parts...)
	}
	return true, out, nil
}

// FromArgs implements memdb.Indexer: the arguments are leading key parts.
func (k *multiKeyIndex) FromArgs(args ...any) ([]byte, error) { return keyFromArgs(args) }

// describeSchema renders the schema as stable text for the golden test.
func describeSchema(s *memdb.DBSchema) string {
	var b strings.Builder
	for _, tname := range sortedKeys(s.Tables) {
		t := s.Tables[tname]
		fmt.Fprintf(&b, "table %s\n", tname)
		for _, iname := range sortedKeys(t.Indexes) {
			ix := t.Indexes[iname]
			fmt.Fprintf(&b, "  index %s unique=%t allow_missing=%t %s\n",
				iname, ix.Unique, ix.AllowMissing, describeIndexer(ix.Indexer))
		}
	}
	return b.String()
}

func describeIndexer(ix memdb.Indexer) string {
	switch v := ix.(type) {
	case *memdb.StringFieldIndex:
		return fmt.Sprintf("string(%s, lowercase=%t)", v.Field, v.Lowercase)
	case *memdb.IntFieldIndex:
		return fmt.Sprintf("int(%s)", v.Field)
	case *memdb.CompoundIndex:
		parts := make([]string, len(v.Indexes))
		for i, sub := range v.Indexes {
			parts[i] = describeIndexer(sub)
		}
		return fmt.Sprintf("compound(%s, allow_missing=%t)", strings.Join(parts, ", "), v.AllowMissing)
	case *keyIndex:
		return fmt.Sprintf("key(%s)", v.desc)
	case *intIndex:
		return fmt.Sprintf("int(%s)", v.field)
	case *multiKeyIndex:
		return fmt.Sprintf("multikey(%s)", v.desc)
	}
	return fmt.Sprintf("%T", ix)
}
