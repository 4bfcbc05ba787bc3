package app

import (
	"encoding/json"
	"fmt"
	"reflect"
)

// changeTypes are the changes a replicated log may carry; EncodeChange
// refuses any other. A test checks that every Change is here.
var changeTypes = byName(
	CreateApp{}, PutRelease{}, AddKey{}, RemoveKey{},
	SetConfig{}, SetFormation{}, SetStopped{}, SetVolumes{}, DeleteReleases{},
	SetSleepPolicy{}, SetSleepState{}, SetLimits{}, DestroyApp{}, RenameApp{},
	AddDomain{}, RemoveDomain{}, SetAccess{}, SetCronSuspended{}, SetSetting{},
	AddJoinToken{}, UseJoinToken{}, SetPlacement{}, RestartApp{}, SetChecks{}, SetAppCert{},
	PutCertValue{}, DeleteCertValue{}, TakeCertLock{}, ReleaseCertLock{},
)

func byName(cs ...Change) map[string]reflect.Type {
	m := make(map[string]reflect.Type, len(cs))
	for _, c := range cs {
		t := reflect.TypeOf(c)
		m[t.Name()] = t
	}
	return m
}

// encodedChange is a change as a log entry carries it.
type encodedChange struct {
	Type   string          `json:"type"`
	Change json.RawMessage `json:"change"`
}

// EncodeChange turns c into bytes a replicated log can carry, as
// {"type": "SetConfig", "change": {...}}; DecodeChange turns them back.
func EncodeChange(c Change) ([]byte, error) {
	t := reflect.TypeOf(c)
	if t == nil || changeTypes[t.Name()] != t {
		return nil, fmt.Errorf("encode change: %T is not a change the log carries", c)
	}
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode change %s: %w", t.Name(), err)
	}
	return json.Marshal(encodedChange{Type: t.Name(), Change: b})
}

// DecodeChange reads what EncodeChange wrote. An unknown type is an error:
// a newer pier's change that this one cannot apply.
func DecodeChange(b []byte) (Change, error) {
	var e encodedChange
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("decode change: %w", err)
	}
	t, ok := changeTypes[e.Type]
	if !ok {
		return nil, fmt.Errorf("decode change: unknown type %q (written by a newer pier?)", e.Type)
	}
	v := reflect.New(t)
	if err := json.Unmarshal(e.Change, v.Interface()); err != nil {
		return nil, fmt.Errorf("decode change %s: %w", e.Type, err)
	}
	return v.Elem().Interface().(Change), nil
}
