package engine

import (
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/valyala/fastjson"

	"github.com/campaignd/campaignd/internal/bytesconv"
	"github.com/campaignd/campaignd/storage"
)

// User request decoding (POST /users, PATCH /users, the NDJSON import): a user object has known
// fields with fixed types and any other top-level key is a custom field.
// Decoding uses fastjson and writes strings and custom JSON into the decoder's arena, so decoding
// a user costs one allocation (its id, which the interner keeps) once the arena has grown.

// Known user fields as a bit set (which fields a partial update sets or unsets).
const (
	ufName uint32 = 1 << iota
	ufImage
	ufRole
	ufLanguage
	ufTeams
	ufBanned
	ufShadowBanned
	ufInvisible
	ufCreatedAt
	ufLastActive
)

// userFieldBit returns the bit of a writable known field.
// NB: a switch, not a map: it runs for every key of every imported user.
func userFieldBit(name string) (uint32, bool) {
	switch name {
	case "name":
		return ufName, true
	case "image":
		return ufImage, true
	case "role":
		return ufRole, true
	case "language":
		return ufLanguage, true
	case "teams":
		return ufTeams, true
	case "banned":
		return ufBanned, true
	case "shadow_banned":
		return ufShadowBanned, true
	case "invisible":
		return ufInvisible, true
	case "created_at":
		return ufCreatedAt, true
	case "last_active":
		return ufLastActive, true
	}
	return 0, false
}

// userReadOnly reports the keys of a UserResponse / FullUserResponse that the server computes. A
// full user object may carry them (a client sending back what it read); they are ignored there,
// and a partial update may not set or unset them.
func userReadOnly(name string) bool {
	switch name {
	case "id", "online", "updated_at", "deleted_at", "deactivated_at", "devices", "mutes",
		"channel_mutes", "total_unread_count", "unread_count", "unread_channels", "unread_threads",
		"blocked_user_ids":
		return true
	}
	return false
}

// MaxUserTeams is the most teams one user may belong to.
const MaxUserTeams = 250

// UserDecoder decodes user JSON into storage.User values whose strings and Custom alias the
// decoder's arena. A UserDecoder is used by one goroutine. Users decoded since the last Reset
// stay valid until the next Reset, except their ID, which is always a fresh string.
type UserDecoder struct {
	p      fastjson.Parser
	arena  []byte
	teams  []string // backing of decoded users' Teams
	keys   []string // custom keys of the object being decoded, for duplicate detection
	path   string   // how errors name the user, e.g. `user "u1"`
	custom []byte   // custom JSON being built
}

// Reset forgets the users decoded so far and reuses their memory.
func (d *UserDecoder) Reset() {
	d.arena = d.arena[:0]
	clear(d.teams) // drop references into the old arena
	d.teams = d.teams[:0]
}

// str copies b into the arena and returns it as a string aliasing the arena.
func (d *UserDecoder) str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	start := len(d.arena)
	d.arena = append(d.arena, b...)
	return bytesconv.UnsafeString(d.arena[start:])
}

// DecodeUserLine decodes one user object (an NDJSON import line) into u. The object must have an
// "id". Errors are *Error (code 4) saying what to fix.
func (d *UserDecoder) DecodeUserLine(line []byte, u *storage.User) error {
	v, err := d.p.ParseBytes(line)
	if err != nil {
		return InputError("", "the line is not valid JSON: %s", err)
	}
	return d.decodeUser(v, "", u)
}

// decodeUser decodes the user object v into u (replacing every field). key, when not empty, is the
// map key the object was found under: the object's id must equal it (a missing id takes it).
func (d *UserDecoder) decodeUser(v *fastjson.Value, key string, u *storage.User) error {
	o, err := v.Object()
	if err != nil {
		if key != "" {
			return InputError(key, "user %q must be a JSON object, not %s", key, describeJSON(v))
		}
		return InputError("", "a user must be a JSON object, not %s", describeJSON(v))
	}
	*u = storage.User{}
	idv := o.Get("id")
	switch {
	case idv == nil || idv.Type() == fastjson.TypeNull:
		if key == "" {
			return InputError("id", "the user has no \"id\"; every user needs a non-empty string id")
		}
		u.ID = key
	case idv.Type() != fastjson.TypeString:
		return InputError("id", "user id must be a string, not %s", describeJSON(idv))
	default:
		id := idv.GetStringBytes()
		if key != "" && string(id) != key {
			return InputError("id", "user id %q does not match its key %q in \"users\"; the key must be the user's id", id, key)
		}
		if key != "" {
			u.ID = key
		} else {
			u.ID = string(id)
		}
	}
	if err := CheckID("id", u.ID); err != nil {
		return err
	}
	if !utf8.ValidString(u.ID) {
		return InputError("id", "user id %q is not valid UTF-8", u.ID)
	}
	d.path = u.ID
	d.keys = d.keys[:0]
	d.custom = append(d.custom[:0], '{')
	var ferr error
	o.Visit(func(k []byte, fv *fastjson.Value) {
		if ferr != nil {
			return
		}
		name := bytesconv.UnsafeString(k)
		if bit, ok := userFieldBit(name); ok {
			ferr = d.setField(u, bit, name, fv)
			return
		}
		if userReadOnly(name) {
			return
		}
		if name == "custom" && fv.Type() == fastjson.TypeObject {
			// A nested "custom" object (OpenAPI-style clients): its keys become custom fields.
			co, _ := fv.Object()
			co.Visit(func(ck []byte, cv *fastjson.Value) {
				if ferr == nil {
					ferr = d.addCustom(bytesconv.UnsafeString(ck), cv)
				}
			})
			return
		}
		ferr = d.addCustom(name, fv)
	})
	if ferr != nil {
		return ferr
	}
	if len(d.custom) > 1 {
		d.custom = append(d.custom, '}')
		if len(d.custom) > MaxUserCustomSize {
			return InputError("custom", "user %q has %d bytes of custom data; the limit is %d", u.ID, len(d.custom), MaxUserCustomSize)
		}
		start := len(d.arena)
		d.arena = append(d.arena, d.custom...)
		u.Custom = d.arena[start:len(d.arena):len(d.arena)]
	}
	return nil
}

// addCustom appends the custom field name=v to d.custom.
func (d *UserDecoder) addCustom(name string, v *fastjson.Value) error {
	if name == "" {
		return InputError("", "user %q has an empty key; custom field names must not be empty", d.path)
	}
	if _, known := userFieldBit(name); known || userReadOnly(name) {
		return InputError(name, "user %q: %q is a known user field, not a custom one", d.path, name)
	}
	for _, k := range d.keys {
		if k == name {
			return InputError(name, "user %q has the key %q twice", d.path, name)
		}
	}
	d.keys = append(d.keys, name)
	if len(d.custom) > 1 {
		d.custom = append(d.custom, ',')
	}
	d.custom = AppendJSONString(d.custom, name)
	d.custom = append(d.custom, ':')
	var err error
	d.custom, err = appendJSONValue(d.custom, v, name)
	if err != nil {
		return InputError(name, "user %q: field %q: %s", d.path, name, err)
	}
	if len(d.custom) > MaxUserCustomSize {
		return InputError(name, "user %q has more than %d bytes of custom data", d.path, MaxUserCustomSize)
	}
	return nil
}

// setField decodes the known field name (bit) from v into u; JSON null clears it.
func (d *UserDecoder) setField(u *storage.User, bit uint32, name string, v *fastjson.Value) error {
	t := v.Type()
	if t == fastjson.TypeNull {
		clearUserFields(u, bit)
		return nil
	}
	switch bit {
	case ufName, ufImage, ufRole, ufLanguage:
		if t != fastjson.TypeString {
			return d.typeError(name, "a string", v)
		}
		b := v.GetStringBytes()
		if max := userStringMax(bit); len(b) > max {
			return InputError(name, "user %q: %s is %d bytes long; the maximum is %d", d.path, name, len(b), max)
		}
		var s string
		if bit == ufRole && string(b) == DefaultUserRole {
			s = DefaultUserRole
		} else {
			s = d.str(b)
		}
		switch bit {
		case ufName:
			u.Name = s
		case ufImage:
			u.Image = s
		case ufRole:
			u.Role = s
		case ufLanguage:
			u.Language = s
		}
	case ufTeams:
		arr, err := v.Array()
		if err != nil {
			return d.typeError(name, "an array of strings", v)
		}
		if len(arr) > MaxUserTeams {
			return InputError(name, "user %q has %d teams; the limit is %d", d.path, len(arr), MaxUserTeams)
		}
		start := len(d.teams)
		for _, tv := range arr {
			if tv.Type() != fastjson.TypeString {
				return InputError(name, "user %q: field %q must be an array of strings; it holds %s", d.path, name, describeJSON(tv))
			}
			tb := tv.GetStringBytes()
			if len(tb) == 0 {
				return InputError(name, "user %q: field %q holds an empty team name", d.path, name)
			}
			if len(tb) > MaxIDLength {
				return InputError(name, "user %q: field %q holds a team name of %d bytes; the maximum is %d", d.path, name, len(tb), MaxIDLength)
			}
			d.teams = append(d.teams, d.str(tb))
		}
		u.Teams = nil
		if len(d.teams) > start {
			u.Teams = d.teams[start:len(d.teams):len(d.teams)]
		}
	case ufBanned, ufShadowBanned, ufInvisible:
		if t != fastjson.TypeTrue && t != fastjson.TypeFalse {
			return d.typeError(name, "a boolean (true or false)", v)
		}
		b := t == fastjson.TypeTrue
		switch bit {
		case ufBanned:
			u.Banned = b
		case ufShadowBanned:
			u.ShadowBanned = b
		case ufInvisible:
			u.Invisible = b
		}
	case ufCreatedAt, ufLastActive:
		if t != fastjson.TypeString {
			return d.typeError(name, "an RFC 3339 timestamp string", v)
		}
		n, err := ParseTime(name, bytesconv.UnsafeString(v.GetStringBytes()))
		if err != nil {
			return InputError(name, "user %q: %s", d.path, err)
		}
		if n == 0 {
			n = 1000 // 0 means "not set"
		}
		if bit == ufCreatedAt {
			u.CreatedAt = n
		} else {
			u.LastActive = n
		}
	default:
		panic(fmt.Sprintf("BUG: unknown user field bit %d", bit))
	}
	return nil
}

// userStringMax is the longest value of the string field bit, in bytes.
func userStringMax(bit uint32) int {
	if bit == ufName || bit == ufImage {
		return MaxUserTextSize
	}
	return MaxIDLength
}

func (d *UserDecoder) typeError(name, want string, v *fastjson.Value) error {
	return InputError(name, "user %q: field %q must be %s, not %s", d.path, name, want, describeJSON(v))
}

// clearUserFields resets the known fields in mask to their defaults.
func clearUserFields(u *storage.User, mask uint32) {
	if mask&ufName != 0 {
		u.Name = ""
	}
	if mask&ufImage != 0 {
		u.Image = ""
	}
	if mask&ufRole != 0 {
		u.Role = ""
	}
	if mask&ufLanguage != 0 {
		u.Language = ""
	}
	if mask&ufTeams != 0 {
		u.Teams = nil
	}
	if mask&ufBanned != 0 {
		u.Banned = false
	}
	if mask&ufShadowBanned != 0 {
		u.ShadowBanned = false
	}
	if mask&ufInvisible != 0 {
		u.Invisible = false
	}
	if mask&ufCreatedAt != 0 {
		u.CreatedAt = 0
	}
	if mask&ufLastActive != 0 {
		u.LastActive = 0
	}
}

// describeJSON names the kind of v for error messages (JSONKind), with a short excerpt of a string
// or a number.
func describeJSON(v *fastjson.Value) string {
	switch v.Type() {
	case fastjson.TypeString:
		s := v.GetStringBytes()
		if len(s) > 40 {
			return fmt.Sprintf("a string (%q...)", s[:40])
		}
		return fmt.Sprintf("a string (%q)", s)
	case fastjson.TypeNumber:
		return "a number (" + v.String() + ")"
	case fastjson.TypeObject:
		return jsonKindOf('{')
	case fastjson.TypeArray:
		return jsonKindOf('[')
	case fastjson.TypeNull:
		return jsonKindOf('n')
	}
	return jsonKindOf('t')
}

// appendJSONValue appends v as compact, valid JSON. fastjson accepts some non-JSON numbers (NaN,
// Inf, 01) and MarshalTo can emit Go escapes, so strings are re-escaped and numbers checked here.
func appendJSONValue(dst []byte, v *fastjson.Value, name string) ([]byte, error) {
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		dst = append(dst, '{')
		first := true
		var err error
		o.Visit(func(k []byte, cv *fastjson.Value) {
			if err != nil {
				return
			}
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = AppendJSONString(dst, bytesconv.UnsafeString(k))
			dst = append(dst, ':')
			dst, err = appendJSONValue(dst, cv, name)
		})
		if err != nil {
			return dst, err
		}
		return append(dst, '}'), nil
	case fastjson.TypeArray:
		arr, _ := v.Array()
		dst = append(dst, '[')
		for i, cv := range arr {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendJSONValue(dst, cv, name); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case fastjson.TypeString:
		return AppendJSONString(dst, bytesconv.UnsafeString(v.GetStringBytes())), nil
	case fastjson.TypeNumber:
		start := len(dst)
		dst = v.MarshalTo(dst)
		if !validJSONNumber(dst[start:]) {
			return dst[:start], fmt.Errorf("%s is not a JSON number", strconv.Quote(string(dst[start:])))
		}
		return dst, nil
	default: // true, false, null
		return v.MarshalTo(dst), nil
	}
}

// validJSONNumber reports whether b is a number in JSON's grammar: -?int(.digits)?([eE][+-]?digits)?.
func validJSONNumber(b []byte) bool {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = skipDigits(b, i)
	default:
		return false
	}
	if i < len(b) && b[i] == '.' {
		if n := skipDigits(b, i+1); n > i+1 {
			i = n
		} else {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if n := skipDigits(b, i); n > i {
			i = n
		} else {
			return false
		}
	}
	return i == len(b)
}

// skipDigits returns the index of the first byte at or after i of b that is not a digit.
func skipDigits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

// DecodeUpsertUsers decodes a POST /users body, {"users": {"<id>": {user}, ...}}, appending the
// users to dst in body order. At most MaxUsersPerUpsert users; every map key must equal its
// object's id. The users alias the decoder (see UserDecoder).
func (d *UserDecoder) DecodeUpsertUsers(body []byte, dst []storage.User) ([]storage.User, error) {
	users, err := d.bodyField(body, "users", fastjson.TypeObject, "an object keyed by user id")
	if err != nil {
		return dst, err
	}
	o, _ := users.Object()
	if n := o.Len(); n == 0 {
		return dst, InputError("users", "\"users\" is empty; send at least one user")
	} else if n > MaxUsersPerUpsert {
		return dst, InputError("users", "\"users\" holds %d users; the limit is %d per request: send smaller batches", n, MaxUsersPerUpsert)
	}
	start := len(dst)
	o.Visit(func(k []byte, v *fastjson.Value) {
		if err != nil {
			return
		}
		for i := start; i < len(dst); i++ {
			if dst[i].ID == string(k) {
				err = InputError("users", "user %q appears twice in \"users\"", k)
				return
			}
		}
		if cerr := CheckID("users", string(k)); cerr != nil {
			err = InputError("id", "a key of \"users\" is not a valid user id: %s", cerr.Error())
			return
		}
		dst = append(dst, storage.User{})
		err = d.decodeUser(v, string(k), &dst[len(dst)-1])
	})
	return dst, err
}

// bodyField parses body as a JSON object and returns its key name, which must have type t.
func (d *UserDecoder) bodyField(body []byte, name string, t fastjson.Type, want string) (*fastjson.Value, error) {
	if len(body) == 0 {
		return nil, InputError("", "the request body is empty; send a JSON object with %q", name)
	}
	v, err := d.p.ParseBytes(body)
	if err != nil {
		return nil, InputError("", "the request body is not valid JSON: %s", err)
	}
	if v.Type() != fastjson.TypeObject {
		return nil, InputError("", "the request body must be a JSON object, not %s", describeJSON(v))
	}
	f := v.Get(name)
	if f == nil || f.Type() == fastjson.TypeNull {
		return nil, InputError(name, "the request body has no %q; send %s", name, want)
	}
	if f.Type() != t {
		return nil, InputError(name, "%q must be %s, not %s", name, want, describeJSON(f))
	}
	return f, nil
}

// UserPatch is one decoded entry of a PATCH /users body.
type UserPatch struct {
	ID string
	// Set holds the values of the known fields in SetMask.
	Set     storage.User
	SetMask uint32
	// SetCustom holds the custom fields to set, as (key, compact JSON value) pairs.
	SetCustom []CustomField
	// UnsetMask are the known fields to reset; UnsetCustom the custom keys to remove.
	UnsetMask   uint32
	UnsetCustom []string
}

// CustomField is one custom key and its compact JSON value.
type CustomField struct {
	Key   string
	Value []byte
}

// DecodePartialUpdate decodes a PATCH /users body, {"users": [{"id", "set": {}, "unset": []}]}.
// At most MaxUsersPerUpsert entries. id, created_at and the read-only fields cannot be set or
// unset; a key may not be both set and unset.
func (d *UserDecoder) DecodePartialUpdate(body []byte) ([]UserPatch, error) {
	users, err := d.bodyField(body, "users", fastjson.TypeArray, `an array of {"id", "set", "unset"} objects`)
	if err != nil {
		return nil, err
	}
	arr, _ := users.Array()
	if len(arr) == 0 {
		return nil, InputError("users", "\"users\" is empty; send at least one update")
	}
	if len(arr) > MaxUsersPerUpsert {
		return nil, InputError("users", "\"users\" holds %d updates; the limit is %d per request: send smaller batches", len(arr), MaxUsersPerUpsert)
	}
	patches := make([]UserPatch, len(arr))
	for i, v := range arr {
		if err := d.decodePatch(v, &patches[i]); err != nil {
			return nil, err
		}
		for j := 0; j < i; j++ {
			if patches[j].ID == patches[i].ID {
				return nil, InputError("id", "user %q appears twice in \"users\"; merge its updates", patches[i].ID)
			}
		}
	}
	return patches, nil
}

func (d *UserDecoder) decodePatch(v *fastjson.Value, p *UserPatch) error {
	o, err := v.Object()
	if err != nil {
		return InputError("users", "each entry of \"users\" must be an object with \"id\", \"set\" and \"unset\", not %s", describeJSON(v))
	}
	idv := o.Get("id")
	if idv == nil || idv.Type() != fastjson.TypeString {
		return InputError("id", "each entry of \"users\" needs a string \"id\"")
	}
	p.ID = string(idv.GetStringBytes())
	if err := CheckID("id", p.ID); err != nil {
		return err
	}
	d.path = p.ID
	var ferr error
	o.Visit(func(k []byte, fv *fastjson.Value) {
		if ferr != nil {
			return
		}
		switch string(k) {
		case "id":
		case "set":
			ferr = d.decodeSet(fv, p)
		case "unset":
			ferr = d.decodeUnset(fv, p)
		default:
			ferr = InputError(string(k), "user %q: unknown key %q in a partial update; use \"set\" and \"unset\"", p.ID, k)
		}
	})
	if ferr != nil {
		return ferr
	}
	if p.SetMask&p.UnsetMask != 0 {
		return InputError("unset", "user %q: a field is both set and unset", p.ID)
	}
	for _, k := range p.UnsetCustom {
		for _, c := range p.SetCustom {
			if c.Key == k {
				return InputError(k, "user %q: field %q is both set and unset", p.ID, k)
			}
		}
	}
	return nil
}

// patchKey checks a key that user id's partial update sets or unsets (verb): not empty, not
// created_at nor a read-only field. known reports a known field, bit its bit.
func patchKey(id, name, verb string) (bit uint32, known bool, err error) {
	switch {
	case name == "":
		return 0, false, InputError(verb, "user %q: %q has an empty field name", id, verb)
	case name == "created_at" || userReadOnly(name):
		return 0, false, InputError(name, "user %q: field %q cannot be %s", id, name, verb)
	}
	bit, known = userFieldBit(name)
	return bit, known, nil
}

func (d *UserDecoder) decodeSet(v *fastjson.Value, p *UserPatch) error {
	if v.Type() == fastjson.TypeNull {
		return nil
	}
	o, err := v.Object()
	if err != nil {
		return InputError("set", "user %q: \"set\" must be an object, not %s", p.ID, describeJSON(v))
	}
	var ferr error
	o.Visit(func(k []byte, fv *fastjson.Value) {
		if ferr != nil {
			return
		}
		name := string(k)
		bit, known, err := patchKey(p.ID, name, "set")
		switch {
		case err != nil:
			ferr = err
			return
		case known:
			p.SetMask |= bit
			ferr = d.setField(&p.Set, bit, name, fv)
			return
		}
		for _, c := range p.SetCustom {
			if c.Key == name {
				ferr = InputError(name, "user %q: \"set\" has the key %q twice", p.ID, name)
				return
			}
		}
		val, err := appendJSONValue(nil, fv, name)
		if err != nil {
			ferr = InputError(name, "user %q: field %q: %s", p.ID, name, err)
			return
		}
		p.SetCustom = append(p.SetCustom, CustomField{Key: name, Value: val})
	})
	return ferr
}

func (d *UserDecoder) decodeUnset(v *fastjson.Value, p *UserPatch) error {
	if v.Type() == fastjson.TypeNull {
		return nil
	}
	arr, err := v.Array()
	if err != nil {
		return InputError("unset", "user %q: \"unset\" must be an array of field names, not %s", p.ID, describeJSON(v))
	}
	for _, e := range arr {
		if e.Type() != fastjson.TypeString {
			return InputError("unset", "user %q: \"unset\" must be an array of field names; it holds %s", p.ID, describeJSON(e))
		}
		name := string(e.GetStringBytes())
		bit, known, err := patchKey(p.ID, name, "unset")
		switch {
		case err != nil:
			return err
		case known:
			p.UnsetMask |= bit
		default:
			p.UnsetCustom = append(p.UnsetCustom, name)
		}
	}
	return nil
}
