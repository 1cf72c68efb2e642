package httpd

import (
	"errors"
	"fmt"
	"sync"

	"github.com/golang-jwt/jwt/v5"
)

// authResult is what a verified Authorization header grants.
type authResult struct {
	// userID is set for user tokens; empty for server tokens.
	userID string
}

type authError struct {
	code int
	msg  string
}

// authenticator checks the api_key and the raw HS256 JWT of the Authorization header. Verified
// server tokens without time claims are cached, since the SDK sends the same token on every
// request.
type authenticator struct {
	apiKey string
	secret []byte
	parser *jwt.Parser

	mu    sync.RWMutex
	cache map[string]authResult
}

func newAuthenticator(apiKey, secret string) *authenticator {
	return &authenticator{
		apiKey: apiKey,
		secret: []byte(secret),
		parser: jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithIssuedAt()),
		cache:  make(map[string]authResult),
	}
}

const maxAuthCache = 4096

func (a *authenticator) check(apiKey, token []byte) (authResult, *authError) {
	if len(apiKey) == 0 {
		return authResult{}, &authError{2, "api_key not provided"}
	}
	if string(apiKey) != a.apiKey {
		return authResult{}, &authError{2, "api_key is invalid"}
	}
	if len(token) == 0 {
		return authResult{}, &authError{5, "JWTAuth error: missing Authorization header; send a JWT signed with the API secret"}
	}
	a.mu.RLock()
	res, ok := a.cache[string(token)]
	a.mu.RUnlock()
	if ok {
		return res, nil
	}
	claims := jwt.MapClaims{}
	_, err := a.parser.ParseWithClaims(string(token), claims, func(*jwt.Token) (any, error) { return a.secret, nil })
	if err != nil {
		return authResult{}, jwtError(err, a.apiKey)
	}
	if uid, ok := claims["user_id"]; ok {
		s, _ := uid.(string)
		res.userID = s
		if s == "" {
			return authResult{}, &authError{5, "JWTAuth error: user_id claim must be a non-empty string"}
		}
	}
	_, hasExp := claims["exp"]
	_, hasNbf := claims["nbf"]
	if !hasExp && !hasNbf {
		a.mu.Lock()
		if len(a.cache) >= maxAuthCache {
			clear(a.cache)
		}
		a.cache[string(token)] = res
		a.mu.Unlock()
	}
	return res, nil
}

func jwtError(err error, apiKey string) *authError {
	switch {
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return &authError{43, fmt.Sprintf("JWTAuth error: signature is not valid. Make sure the token is created using the secret for API key %q", apiKey)}
	case errors.Is(err, jwt.ErrTokenExpired):
		return &authError{40, "JWTAuth error: token has expired"}
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return &authError{41, "JWTAuth error: token is not valid yet (nbf is in the future)"}
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return &authError{42, "JWTAuth error: token used before issued at (iat is in the future)"}
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return &authError{43, fmt.Sprintf("JWTAuth error: token is unverifiable: only HS256 tokens signed with the secret for API key %q are accepted", apiKey)}
	default:
		return &authError{5, "JWTAuth error: " + err.Error()}
	}
}
