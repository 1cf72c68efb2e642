package wire

import (
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/valyala/fastjson"

	"github.com/campaignd/campaignd/engine"
	"github.com/campaignd/campaignd/internal/bytesconv"
	"github.com/campaignd/campaignd/storage"
)

// User request decoding (POST /users, PATCH /users, the NDJSON import): a user object has known
// fields with fixed types and any other top-level key is a custom field.
// Decoding uses fastjson and writes strings and custom JSON into the decoder's arena, so decoding
// a user costs one allocation (its id, which the interner keeps) once the arena has grown.

// userFieldBit returns the bit of a writable known field.
// NB: a switch, not a map: it runs for every key of every imported user.
func userFieldBit(name string) (engine.UserFields, bool) {
	switch name {
	case "name":
		return engine.UserName, true
	case "image":
		return engine.UserImage, true
	case "role":
		return engine.UserRole, true
	case "language":
		return engine.UserLanguage, true
	case "teams":
		return engine.UserTeams, true
	case "banned":
		return engine.UserBanned, true
	case "shadow_banned":
		return engine.UserShadowBanned, true
	case "invisible":
		return engine.UserInvisible, true
	case "created_at":
		return engine.UserCreatedAt, true
	case "last_active":
		return engine.UserLastActive, true
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
		return engine.InputError("", "the line is not valid JSON: %s", err)
	}
	return d.decodeUser(v, "", u)
}

// decodeUser decodes the user object v into u (replacing every field). key, when not empty, is the
// map key the object was found under: the object's id must equal it (a missing id takes it).
func (d *UserDecoder) decodeUser(v *fastjson.Value, key string, u *storage.User) error {
	o, err := v.Object()
	if err != nil {
		if key != "" {
			return engine.InputError(key, "user %q must be a JSON object, not %s", key, describeJSON(v))
		}
		return engine.InputError("", "a user must be a JSON object, not %s", describeJSON(v))
	}
	*u = storage.User{}
	idv := o.Get("id")
	switch {
	case idv == nil || idv.Type() == fastjson.TypeNull:
		if key == "" {
			return engine.InputError("id", "the user has no \"id\"; every user needs a non-empty string id")
		}
		u.ID = key
	case idv.Type() != fastjson.TypeString:
		return engine.InputError("id", "user id must be a string, not %s", describeJSON(idv))
	default:
		id := idv.GetStringBytes()
		if key != "" && string(id) != key {
			return engine.InputError("id", "user id %q does not match its key %q in \"users\"; the key must be the user's id", id, key)
		}
		if key != "" {
			u.ID = key
		} else {
			u.ID = string(id)
		}
	}
	if err := engine.CheckID("id", u.ID); err != nil {
		return err
	}
	if !utf8.ValidString(u.ID) {
		return engine.InputError("id", "user id %q is not valid UTF-8", u.ID)
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
		if len(d.custom) > engine.MaxUserCustomSize {
			return engine.InputError("custom", "user %q has %d bytes of custom data; the limit is %d", u.ID, len(d.custom), engine.MaxUserCustomSize)
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
		return engine.InputError("", "user %q has an empty key; custom field names must not be empty", d.path)
	}
	if _, known := userFieldBit(name); known || userReadOnly(name) {
		return engine.InputError(name, "user %q: %q is a known user field, not a custom one", d.path, name)
	}
	for _, k := range d.keys {
		if k == name {
			return engine.InputError(name, "user %q has the key %q twice", d.path, name)
		}
	}
	d.keys = append(d.keys, name)
	if len(d.custom) > 1 {
		d.custom = append(d.custom, ',')
	}
	d.custom = AppendString(d.custom, name)
	d.custom = append(d.custom, ':')
	var err error
	d.custom, err = appendJSONValue(d.custom, v, name)
	if err != nil {
		return engine.InputError(name, "user %q: field %q: %s", d.path, name, err)
	}
	if len(d.custom) > engine.MaxUserCustomSize {
		return engine.InputError(name, "user %q has more than %d bytes of custom data", d.path, engine.MaxUserCustomSize)
	}
	return nil
}

// setField decodes the known field name (bit) from v into u; JSON null clears it.
func (d *UserDecoder) setField(u *storage.User, bit engine.UserFields, name string, v *fastjson.Value) error {
	t := v.Type()
	if t == fastjson.TypeNull {
		bit.Clear(u)
		return nil
	}
	switch bit {
	case engine.UserName, engine.UserImage, engine.UserRole, engine.UserLanguage:
		if t != fastjson.TypeString {
			return d.typeError(name, "a string", v)
		}
		b := v.GetStringBytes()
		if max := userStringMax(bit); len(b) > max {
			return engine.InputError(name, "user %q: %s is %d bytes long; the maximum is %d", d.path, name, len(b), max)
		}
		var s string
		if bit == engine.UserRole && string(b) == engine.DefaultUserRole {
			s = engine.DefaultUserRole
		} else {
			s = d.str(b)
		}
		switch bit {
		case engine.UserName:
			u.Name = s
		case engine.UserImage:
			u.Image = s
		case engine.UserRole:
			u.Role = s
		case engine.UserLanguage:
			u.Language = s
		}
	case engine.UserTeams:
		arr, err := v.Array()
		if err != nil {
			return d.typeError(name, "an array of strings", v)
		}
		if len(arr) > engine.MaxUserTeams {
			return engine.InputError(name, "user %q has %d teams; the limit is %d", d.path, len(arr), engine.MaxUserTeams)
		}
		start := len(d.teams)
		for _, tv := range arr {
			if tv.Type() != fastjson.TypeString {
				return engine.InputError(name, "user %q: field %q must be an array of strings; it holds %s", d.path, name, describeJSON(tv))
			}
			tb := tv.GetStringBytes()
			if len(tb) == 0 {
				return engine.InputError(name, "user %q: field %q holds an empty team name", d.path, name)
			}
			if len(tb) > engine.MaxIDLength {
				return engine.InputError(name, "user %q: field %q holds a team name of %d bytes; the maximum is %d", d.path, name, len(tb), engine.MaxIDLength)
			}
			d.teams = append(d.teams, d.str(tb))
		}
		u.Teams = nil
		if len(d.teams) > start {
			u.Teams = d.teams[start:len(d.teams):len(d.teams)]
		}
	case engine.UserBanned, engine.UserShadowBanned, engine.UserInvisible:
		if t != fastjson.TypeTrue && t != fastjson.TypeFalse {
			return d.typeError(name, "a boolean (true or false)", v)
		}
		b := t == fastjson.TypeTrue
		switch bit {
		case engine.UserBanned:
			u.Banned = b
		case engine.UserShadowBanned:
			u.ShadowBanned = b
		case engine.UserInvisible:
			u.Invisible = b
		}
	case engine.UserCreatedAt, engine.UserLastActive:
		if t != fastjson.TypeString {
			return d.typeError(name, "an RFC 3339 timestamp string", v)
		}
		n, err := ParseTime(name, bytesconv.UnsafeString(v.GetStringBytes()))
		if err != nil {
			return engine.InputError(name, "user %q: %s", d.path, err)
		}
		if n == 0 {
			n = 1000 // 0 means "not set"
		}
		if bit == engine.UserCreatedAt {
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
func userStringMax(bit engine.UserFields) int {
	if bit == engine.UserName || bit == engine.UserImage {
		return engine.MaxUserTextSize
	}
	return engine.MaxIDLength
}

func (d *UserDecoder) typeError(name, want string, v *fastjson.Value) error {
	return engine.InputError(name, "user %q: field %q must be %s, not %s", d.path, name, want, describeJSON(v))
}

// describeJSON names the kind of v for error messages (kindOf), with a short excerpt of a string
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
		return kindOf('{')
	case fastjson.TypeArray:
		return kindOf('[')
	case fastjson.TypeNull:
		return kindOf('n')
	}
	return kindOf('t')
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
			dst = AppendString(dst, bytesconv.UnsafeString(k))
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
		return AppendString(dst, bytesconv.UnsafeString(v.GetStringBytes())), nil
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
// users to dst in body order. At most engine.MaxUsersPerUpsert users; every map key must equal its
// object's id. The users alias the decoder (see UserDecoder).
func (d *UserDecoder) DecodeUpsertUsers(body []byte, dst []storage.User) ([]storage.User, error) {
	users, err := d.bodyField(body, "users", fastjson.TypeObject, "an object keyed by user id")
	if err != nil {
		return dst, err
	}
	o, _ := users.Object()
	if n := o.Len(); n == 0 {
		return dst, engine.InputError("users", "\"users\" is empty; send at least one user")
	} else if n > engine.MaxUsersPerUpsert {
		return dst, engine.InputError("users", "\"users\" holds %d users; the limit is %d per request: send smaller batches", n, engine.MaxUsersPerUpsert)
	}
	start := len(dst)
	o.Visit(func(k []byte, v *fastjson.Value) {
		if err != nil {
			return
		}
		for i := start; i < len(dst); i++ {
			if dst[i].ID == string(k) {
				err = engine.InputError("users", "user %q appears twice in \"users\"", k)
				return
			}
		}
		if cerr := engine.CheckID("users", string(k)); cerr != nil {
			err = engine.InputError("id", "a key of \"users\" is not a valid user id: %s", cerr.Error())
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
		return nil, engine.InputError("", "the request body is empty; send a JSON object with %q", name)
	}
	v, err := d.p.ParseBytes(body)
	if err != nil {
		return nil, engine.InputError("", "the request body is not valid JSON: %s", err)
	}
	if v.Type() != fastjson.TypeObject {
		return nil, engine.InputError("", "the request body must be a JSON object, not %s", describeJSON(v))
	}
	f := v.Get(name)
	if f == nil || f.Type() == fastjson.TypeNull {
		return nil, engine.InputError(name, "the request body has no %q; send %s", name, want)
	}
	if f.Type() != t {
		return nil, engine.InputError(name, "%q must be %s, not %s", name, want, describeJSON(f))
	}
	return f, nil
}

// DecodePartialUpdate decodes a PATCH /users body, {"users": [{"id", "set": {}, "unset": []}]}.
// At most engine.MaxUsersPerUpsert entries. id, created_at and the read-only fields cannot be set or
// unset; a key may not be both set and unset.
func (d *UserDecoder) DecodePartialUpdate(body []byte) ([]engine.UserPatch, error) {
	users, err := d.bodyField(body, "users", fastjson.TypeArray, `an array of {"id", "set", "unset"} objects`)
	if err != nil {
		return nil, err
	}
	arr, _ := users.Array()
	if len(arr) == 0 {
		return nil, engine.InputError("users", "\"users\" is empty; send at least one update")
	}
	if len(arr) > engine.MaxUsersPerUpsert {
		return nil, engine.InputError("users", "\"users\" holds %d updates; the limit is %d per request: send smaller batches", len(arr), engine.MaxUsersPerUpsert)
	}
	patches := make([]engine.UserPatch, len(arr))
	for i, v := range arr {
		if err := d.decodePatch(v, &patches[i]); err != nil {
			return nil, err
		}
		for j := 0; j < i; j++ {
			if patches[j].ID == patches[i].ID {
				return nil, engine.InputError("id", "user %q appears twice in \"users\"; merge its updates", patches[i].ID)
			}
		}
	}
	return patches, nil
}

func (d *UserDecoder) decodePatch(v *fastjson.Value, p *engine.UserPatch) error {
	o, err := v.Object()
	if err != nil {
		return engine.InputError("users", "each entry of \"users\" must be an object with \"id\", \"set\" and \"unset\", not %s", describeJSON(v))
	}
	idv := o.Get("id")
	if idv == nil || idv.Type() != fastjson.TypeString {
		return engine.InputError("id", "each entry of \"users\" needs a string \"id\"")
	}
	p.ID = string(idv.GetStringBytes())
	if err := engine.CheckID("id", p.ID); err != nil {
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
			ferr = engine.InputError(string(k), "user %q: unknown key %q in a partial update; use \"set\" and \"unset\"", p.ID, k)
		}
	})
	if ferr != nil {
		return ferr
	}
	if p.SetMask&p.UnsetMask != 0 {
		return engine.InputError("unset", "user %q: a field is both set and unset", p.ID)
	}
	for _, k := range p.UnsetCustom {
		for _, c := range p.SetCustom {
			if c.Key == k {
				return engine.InputError(k, "user %q: field %q is both set and unset", p.ID, k)
			}
		}
	}
	return nil
}

// patchKey checks a key that user id's partial update sets or unsets (verb): not empty, not
// created_at nor a read-only field. known reports a known field, bit its bit.
func patchKey(id, name, verb string) (bit engine.UserFields, known bool, err error) {
	switch {
	case name == "":
		return 0, false, engine.InputError(verb, "user %q: %q has an empty field name", id, verb)
	case name == "created_at" || userReadOnly(name):
		return 0, false, engine.InputError(name, "user %q: field %q cannot be %s", id, name, verb)
	}
	bit, known = userFieldBit(name)
	return bit, known, nil
}

func (d *UserDecoder) decodeSet(v *fastjson.Value, p *engine.UserPatch) error {
	if v.Type() == fastjson.TypeNull {
		return nil
	}
	o, err := v.Object()
	if err != nil {
		return engine.InputError("set", "user %q: \"set\" must be an object, not %s", p.ID, describeJSON(v))
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
				ferr = engine.InputError(name, "user %q: \"set\" has the key %q twice", p.ID, name)
				return
			}
		}
		member := append(AppendString(nil, name), ':')
		member, err = appendJSONValue(member, fv, name)
		if err != nil {
			ferr = engine.InputError(name, "user %q: field %q: %s", p.ID, name, err)
			return
		}
		p.SetCustom = append(p.SetCustom, engine.CustomField{Key: name, Member: member})
	})
	return ferr
}

func (d *UserDecoder) decodeUnset(v *fastjson.Value, p *engine.UserPatch) error {
	if v.Type() == fastjson.TypeNull {
		return nil
	}
	arr, err := v.Array()
	if err != nil {
		return engine.InputError("unset", "user %q: \"unset\" must be an array of field names, not %s", p.ID, describeJSON(v))
	}
	for _, e := range arr {
		if e.Type() != fastjson.TypeString {
			return engine.InputError("unset", "user %q: \"unset\" must be an array of field names; it holds %s", p.ID, describeJSON(e))
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

// NewUserDecoder returns a new UserDecoder as the import's line decoder
// (engine.ImportOptions.NewDecoder).
func NewUserDecoder() engine.UserLineDecoder { return new(UserDecoder) }
