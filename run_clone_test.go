package troupe_test

import (
	"reflect"
	"testing"

	"github.com/troupehq/troupe"
)

// Every map and slice of a run, at any depth of its struct fields, is the
// clone's own: a field added later without a line in Clone fails here.
func TestRunCloneOwnsMapsAndSlices(t *testing.T) {
	r := new(troupe.Run)
	var fill func(v reflect.Value)
	fill = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Struct:
			for i := range v.NumField() {
				if v.Type().Field(i).IsExported() {
					fill(v.Field(i))
				}
			}
		case reflect.Map:
			m := reflect.MakeMap(v.Type())
			m.SetMapIndex(reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem())
			v.Set(m)
		case reflect.Slice:
			v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		}
	}
	fill(reflect.ValueOf(r).Elem())
	c := r.Clone()
	if !reflect.DeepEqual(r, c) {
		t.Fatalf("clone differs:\n%+v\n%+v", c, r)
	}
	var check func(path string, a, b reflect.Value)
	check = func(path string, a, b reflect.Value) {
		switch a.Kind() {
		case reflect.Struct:
			for i := range a.NumField() {
				if f := a.Type().Field(i); f.IsExported() {
					check(path+"."+f.Name, a.Field(i), b.Field(i))
				}
			}
		case reflect.Map, reflect.Slice:
			if a.UnsafePointer() == b.UnsafePointer() {
				t.Errorf("Run%s is shared between a run and its clone", path)
			}
		}
	}
	check("", reflect.ValueOf(r).Elem(), reflect.ValueOf(c).Elem())
}
