package bench

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// ImportUsersConfig configures the ImportUsers workload.
type ImportUsersConfig struct {
	// URL is the base URL of a running campaignd, e.g. http://127.0.0.1:3030.
	URL string
	// APIKey and APISecret authenticate (a server token is signed with the secret).
	APIKey, APISecret string
	// Users is the number of users to import. Default 1,000,000.
	Users int
	// FirstID is added to the generated user numbers, so that runs can create new users.
	FirstID int
	// Client sends the request. Default: a client without timeout.
	Client *http.Client
}

// ImportUsersResult is what one ImportUsers run measured.
type ImportUsersResult struct {
	Users    int           // users the server reported as imported
	Bytes    int           // size of the NDJSON body
	Duration time.Duration // from sending the first byte to reading the reply
}

// UsersPerSec returns the import throughput.
func (r ImportUsersResult) UsersPerSec() float64 { return float64(r.Users) / r.Duration.Seconds() }

// UsersNDJSON returns n generated users as NDJSON, numbered from first: realistic users with a
// name, role, teams, language and a few custom fields (about 190 bytes a line).
func UsersNDJSON(n, first int) []byte {
	buf := make([]byte, 0, n*200)
	countries := [...]string{"NL", "DE", "US", "FR", "JP", "BR", "IN"}
	plans := [...]string{"free", "pro", "team"}
	for i := first; i < first+n; i++ {
		buf = append(buf, `{"id":"user-`...)
		buf = strconv.AppendInt(buf, int64(i), 10)
		buf = append(buf, `","name":"User Number `...)
		buf = strconv.AppendInt(buf, int64(i), 10)
		buf = append(buf, `","role":"user","teams":["team-`...)
		buf = strconv.AppendInt(buf, int64(i%50), 10)
		buf = append(buf, `"],"language":"en","image":"https://cdn.example.com/u/`...)
		buf = strconv.AppendInt(buf, int64(i%1000), 10)
		buf = append(buf, `.png","age":`...)
		buf = strconv.AppendInt(buf, int64(18+i%60), 10)
		buf = append(buf, `,"country":"`...)
		buf = append(buf, countries[i%len(countries)]...)
		buf = append(buf, `","plan":"`...)
		buf = append(buf, plans[i%len(plans)]...)
		buf = append(buf, `","vip":`...)
		buf = strconv.AppendBool(buf, i%10 == 0)
		buf = append(buf, "}\n"...)
	}
	return buf
}

// ImportUsers POSTs body (NDJSON users, e.g. from UsersNDJSON) to /users/import of the campaignd
// at cfg.URL and returns what the server reported and how long it took. It fails when any line
// was rejected.
func ImportUsers(cfg ImportUsersConfig, body []byte) (ImportUsersResult, error) {
	client := cfg.Client
	if client == nil {
		client = &http.Client{}
	}
	req, err := http.NewRequest("POST", cfg.URL+"/users/import?api_key="+cfg.APIKey, bytes.NewReader(body))
	if err != nil {
		return ImportUsersResult{}, fmt.Errorf("cannot build the import request: %w", err)
	}
	req.Header.Set("Authorization", ServerToken(cfg.APISecret))
	req.Header.Set("Content-Type", "application/x-ndjson")
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return ImportUsersResult{}, fmt.Errorf("cannot import users: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	d := time.Since(start)
	if err != nil {
		return ImportUsersResult{}, fmt.Errorf("cannot read the import reply: %w", err)
	}
	if resp.StatusCode != 201 {
		return ImportUsersResult{}, fmt.Errorf("import failed with status %d: %s", resp.StatusCode, raw)
	}
	var res struct {
		Imported int `json:"imported"`
		Failed   int `json:"failed"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		return ImportUsersResult{}, fmt.Errorf("cannot decode the import reply %q: %w", raw, err)
	}
	if res.Failed != 0 {
		return ImportUsersResult{}, fmt.Errorf("import rejected %d lines: %.500s", res.Failed, raw)
	}
	return ImportUsersResult{Users: res.Imported, Bytes: len(body), Duration: d}, nil
}

// ServerToken returns the server-side JWT the stream-chat SDK sends: HS256 over
// {"server":true} with the API secret.
func ServerToken(secret string) string {
	const header = `{"alg":"HS256","typ":"JWT"}`
	const payload = `{"server":true}`
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(payload))
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(signing))
	return signing + "." + enc.EncodeToString(m.Sum(nil))
}
