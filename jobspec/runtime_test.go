package jobspec

import "testing"

func TestIsRuntimeRoot(t *testing.T) {
	tests := map[string]bool{
		"attr": true, "node": true, "meta": true, "env": true,
		"NOMAD_PORT_http": true, "NOMAD_PORT_product-api": true, "TETHER_ALLOC_ID": true,
		"HOME": true, "MY_VAR_2": true, "_X": true,
		"var": false, "local": false, "region": false, "Home": false, "1X": false, "": false, "_": false,
		"attrs": false, "FOO_bar": false,
	}
	for name, want := range tests {
		if got := isRuntimeRoot(name); got != want {
			t.Errorf("isRuntimeRoot(%q) = %v, want %v", name, got, want)
		}
	}
}
