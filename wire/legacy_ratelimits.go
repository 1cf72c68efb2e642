package wire

import "strconv"

// RateLimit is one endpoint's quota as GET /rate_limits shows it.
type RateLimit struct {
	// Name is the endpoint's operation name (e.g. "QueryChannels").
	Name             string
	Limit, Remaining int
	// Reset is when the quota is whole again, Unix seconds.
	Reset int64
}

// AppendRateLimits appends the reply of GET /rate_limits: an object with a key per platform of
// platforms ("server_side", "web", "android", "ios"), each an object of {"<Name>": {"limit",
// "remaining", "reset"}}. Only server_side lists limits (campaignd serves server-side clients
// only): limits, in their order.
func (Legacy) AppendRateLimits(dst []byte, platforms []string, limits []RateLimit) []byte {
	dst = append(dst, '{')
	for i, p := range platforms {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendString(dst, p)
		dst = append(dst, `:{`...)
		if p == "server_side" {
			for j := range limits {
				l := &limits[j]
				if j > 0 {
					dst = append(dst, ',')
				}
				dst = AppendString(dst, l.Name)
				dst = append(dst, `:{"limit":`...)
				dst = strconv.AppendInt(dst, int64(l.Limit), 10)
				dst = append(dst, `,"remaining":`...)
				dst = strconv.AppendInt(dst, int64(l.Remaining), 10)
				dst = append(dst, `,"reset":`...)
				dst = strconv.AppendInt(dst, l.Reset, 10)
				dst = append(dst, '}')
			}
		}
		dst = append(dst, '}')
	}
	return append(dst, '}')
}
