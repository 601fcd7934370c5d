package k8s_test

import (
	"os"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/hcmoe/hcmoe/config"
)

// The coordinator Job's config must pass the coordinator's own strict
// parser, so that a deployment does not fail at its first line.
func TestConfigMapParses(t *testing.T) {
	data, err := os.ReadFile("coordinator.yaml")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, doc := range splitDocs(data) {
		var cm corev1.ConfigMap
		if err := yaml.Unmarshal(doc, &cm); err != nil || cm.Kind != "ConfigMap" {
			continue
		}
		text, ok := cm.Data["config.yaml"]
		if !ok {
			continue
		}
		found = true
		if _, err := config.Parse([]byte(text), "k8s/coordinator.yaml:config.yaml"); err != nil {
			t.Fatal(err)
		}
	}
	if !found {
		t.Fatal("no ConfigMap with config.yaml in coordinator.yaml")
	}
}

func splitDocs(b []byte) [][]byte {
	var out [][]byte
	start := 0
	for i := 0; i+3 <= len(b); i++ {
		if (i == 0 || b[i-1] == '\n') && string(b[i:i+3]) == "---" {
			out = append(out, b[start:i])
			start = i + 3
		}
	}
	return append(out, b[start:])
}
