package wire

import "github.com/campaignd/campaignd/engine"

// Legacy is Stream's legacy wire format, the one the stream-chat SDKs speak on the paths without
// a version prefix (doc.go describes it): custom fields flattened into the objects that carry
// them, every array present even when empty. Its encoders are the methods of Legacy, in the
// files legacy_*.go, together with the request decoders of that format; a later generation
// (Stream's /api/v2 shapes) gets a type of its own beside it, and httpd picks one by route.
//
// Legacy is also the engine.Encoder campaignd runs with: the engine renders event bodies and
// template objects through it. The zero value is ready to use; it holds no state.
type Legacy struct{}

var _ engine.Encoder = Legacy{}
