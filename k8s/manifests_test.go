package k8s_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/conf"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

const (
	namespace         = "hcmoe"
	kustomizationFile = "kustomization.yaml"
	helmValuesFile    = "nats-helm-values.yaml"
	dockerfile        = "Dockerfile"

	labelName      = "app.kubernetes.io/name"
	labelPartOf    = "app.kubernetes.io/part-of"
	labelComponent = "app.kubernetes.io/component"

	expertName      = "hcmoe-expert"
	natsName        = "nats"
	natsConfigMap   = "nats-config"
	natsConfKey     = "nats-server.conf"
	jobName         = "hcmoe-solve"
	hcmoeConfigMap  = "hcmoe-config"
	minMaxPayload   = 8 << 20 // bytes
	hcmoeImageName  = "hcmoe"
	expertContainer = "expert"
)

// kinds maps apiVersion/kind to a constructor of the typed object a manifest
// of that kind decodes into. A kind not listed here is an error: add it (and
// its checks) deliberately.
var kinds = map[string]func() any{
	"v1/Namespace":                           func() any { return &corev1.Namespace{} },
	"v1/ConfigMap":                           func() any { return &corev1.ConfigMap{} },
	"v1/Service":                             func() any { return &corev1.Service{} },
	"apps/v1/Deployment":                     func() any { return &appsv1.Deployment{} },
	"batch/v1/Job":                           func() any { return &batchv1.Job{} },
	"autoscaling/v2/HorizontalPodAutoscaler": func() any { return &autoscalingv2.HorizontalPodAutoscaler{} },
	"policy/v1/PodDisruptionBudget":          func() any { return &policyv1.PodDisruptionBudget{} },
	"networking.k8s.io/v1/NetworkPolicy":     func() any { return &networkingv1.NetworkPolicy{} },
}

// manifest is one decoded document of one file.
type manifest struct {
	file  string
	index int // position of the document in its file, from 0
	kind  string
	obj   any // pointer to the typed object, e.g. *appsv1.Deployment
}

func (m manifest) String() string {
	return fmt.Sprintf("%s[%d] %s/%s", m.file, m.index, m.kind, m.obj.(metav1.Object).GetName())
}

// ---------------------------------------------------------------------------
// Strict decoding

// decodeStrict decodes the JSON j into the typed object into, rejecting what a
// lenient decoder would let through: an unknown field (DisallowUnknownFields),
// trailing data, and a key that matches a field only case-insensitively
// (encoding/json accepts "Replicas" for "replicas"; the API server does not).
func decodeStrict(j []byte, into any) error {
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		return err
	}
	if err := dec.Decode(&struct{}{}); err != io.EOF {
		return errors.New("trailing data after the object")
	}
	// Case: re-encode the typed object; every key of the input must come back
	// spelt the same, unless its value is empty (dropped by omitempty).
	out, err := json.Marshal(into)
	if err != nil {
		return err
	}
	var inTree, outTree any
	if err := json.Unmarshal(j, &inTree); err != nil {
		return err
	}
	if err := json.Unmarshal(out, &outTree); err != nil {
		return err
	}
	return sameKeys("", inTree, outTree)
}

func sameKeys(at string, in, out any) error {
	switch in := in.(type) {
	case map[string]any:
		outMap, ok := out.(map[string]any)
		if !ok {
			return nil // a leaf with its own encoding
		}
		keys := make([]string, 0, len(in))
		for k := range in {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := strings.TrimPrefix(at+"."+k, ".")
			ov, ok := outMap[k]
			if !ok {
				if isEmpty(in[k]) {
					continue
				}
				return fmt.Errorf("unknown field %q (field names are case-sensitive)", p)
			}
			if err := sameKeys(p, in[k], ov); err != nil {
				return err
			}
		}
	case []any:
		outSlice, ok := out.([]any)
		if !ok || len(outSlice) != len(in) {
			return nil
		}
		for i := range in {
			if err := sameKeys(fmt.Sprintf("%s[%d]", at, i), in[i], outSlice[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

func isEmpty(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case bool:
		return !v
	case float64:
		return v == 0
	case string:
		return v == ""
	case map[string]any:
		return len(v) == 0
	case []any:
		return len(v) == 0
	}
	return false
}

// decodeManifest decodes one YAML document into the typed object its
// apiVersion and kind name. Duplicate keys are errors (YAMLToJSONStrict).
func decodeManifest(doc []byte) (kind string, obj any, err error) {
	j, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return "", nil, fmt.Errorf("yaml: %w", err)
	}
	var tm metav1.TypeMeta
	if err := json.Unmarshal(j, &tm); err != nil {
		return "", nil, fmt.Errorf("apiVersion/kind: %w", err)
	}
	if tm.APIVersion == "" || tm.Kind == "" {
		return "", nil, errors.New("apiVersion or kind missing")
	}
	newObj, ok := kinds[tm.APIVersion+"/"+tm.Kind]
	if !ok {
		return "", nil, fmt.Errorf("unexpected apiVersion %q kind %q", tm.APIVersion, tm.Kind)
	}
	obj = newObj()
	if err := decodeStrict(j, obj); err != nil {
		return "", nil, fmt.Errorf("%s: %w", tm.Kind, err)
	}
	return tm.Kind, obj, nil
}

var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// splitDocuments splits a multi-document YAML file on "---" lines and drops
// documents that hold only comments or white space.
func splitDocuments(data string) []string {
	var docs []string
	for _, d := range docSeparator.Split(data, -1) {
		empty := true
		for _, line := range strings.Split(d, "\n") {
			if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "#") {
				empty = false
				break
			}
		}
		if !empty {
			docs = append(docs, d)
		}
	}
	return docs
}

// manifestFiles lists the Kubernetes manifests in this directory: every
// *.yaml but the kustomization and the Helm values.
func manifestFiles(t *testing.T) []string {
	t.Helper()
	if yml, _ := filepath.Glob("*.yml"); len(yml) > 0 {
		t.Fatalf("%v: use the .yaml extension (the test and kustomization expect it)", yml)
	}
	all, err := filepath.Glob("*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, f := range all {
		if f != kustomizationFile && f != helmValuesFile {
			files = append(files, f)
		}
	}
	sort.Strings(files)
	if len(files) == 0 {
		t.Fatal("no manifests found")
	}
	return files
}

// loadManifests decodes every document of every manifest file, failing the
// test on the first error.
func loadManifests(t *testing.T) []manifest {
	t.Helper()
	var ms []manifest
	for _, f := range manifestFiles(t) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs := splitDocuments(string(data))
		if len(docs) == 0 {
			t.Fatalf("%s: no documents", f)
		}
		for i, d := range docs {
			kind, obj, err := decodeManifest([]byte(d))
			if err != nil {
				t.Fatalf("%s document %d: %v", f, i, err)
			}
			ms = append(ms, manifest{file: f, index: i, kind: kind, obj: obj})
		}
	}
	return ms
}

func all[T any](ms []manifest) []*T {
	var out []*T
	for _, m := range ms {
		if o, ok := m.obj.(*T); ok {
			out = append(out, o)
		}
	}
	return out
}

func find[T any](t *testing.T, ms []manifest, name string) *T {
	t.Helper()
	for _, o := range all[T](ms) {
		if any(o).(metav1.Object).GetName() == name {
			return o
		}
	}
	var zero T
	t.Fatalf("no %T named %q", zero, name)
	return nil
}

// ---------------------------------------------------------------------------
// Small helpers over the typed objects

type podTemplate struct {
	owner string
	tmpl  *corev1.PodTemplateSpec
}

func podTemplates(ms []manifest) []podTemplate {
	var out []podTemplate
	for _, m := range ms {
		switch o := m.obj.(type) {
		case *appsv1.Deployment:
			out = append(out, podTemplate{m.String(), &o.Spec.Template})
		case *batchv1.Job:
			out = append(out, podTemplate{m.String(), &o.Spec.Template})
		}
	}
	return out
}

func container(t *testing.T, spec *corev1.PodSpec, name string) *corev1.Container {
	t.Helper()
	for i := range spec.Containers {
		if spec.Containers[i].Name == name {
			return &spec.Containers[i]
		}
	}
	t.Fatalf("no container %q", name)
	return nil
}

// selects reports whether the label selector matchLabels are all in labels
// (matchExpressions are not used in these manifests and make it false).
func selects(sel *metav1.LabelSelector, labels map[string]string) bool {
	if sel == nil || len(sel.MatchExpressions) > 0 {
		return false
	}
	for k, v := range sel.MatchLabels {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func subset(sub, labels map[string]string) bool {
	return selects(&metav1.LabelSelector{MatchLabels: sub}, labels)
}

// containerPort resolves a port (by name or number) to a port of c.
func containerPort(c *corev1.Container, p intstr.IntOrString) (int32, bool) {
	for _, cp := range c.Ports {
		if (p.Type == intstr.String && cp.Name == p.StrVal) || (p.Type == intstr.Int && cp.ContainerPort == p.IntVal) {
			return cp.ContainerPort, true
		}
	}
	return 0, false
}

// flags reads "-name value" and "-name=value" pairs from a command line; the
// leading words before the first flag are returned as positional.
func flags(args []string) (positional []string, values map[string]string) {
	values = map[string]string{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			if len(values) == 0 {
				positional = append(positional, a)
			}
			continue
		}
		name := strings.TrimLeft(a, "-")
		if k, v, ok := strings.Cut(name, "="); ok {
			values[k] = v
			continue
		}
		if i+1 < len(args) {
			values[name] = args[i+1]
			i++
		} else {
			values[name] = ""
		}
	}
	return positional, values
}

// imageName is the image reference without tag or digest.
func imageName(ref string) string {
	if i := strings.Index(ref, "@"); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		ref = ref[:i]
	}
	return ref
}

// natsSize parses a NATS size ("8MB", 8388608) with the NATS config parser.
func natsSize(t *testing.T, v any) int64 {
	t.Helper()
	switch v := v.(type) {
	case int64:
		return v
	case float64:
		return int64(v)
	case string:
		m, err := conf.Parse("v: " + v)
		if err != nil {
			t.Fatalf("size %q: %v", v, err)
		}
		return natsSize(t, m["v"])
	}
	t.Fatalf("size %v: unexpected type %T", v, v)
	return 0
}

func mustQuantity(s string) resource.Quantity { return resource.MustParse(s) }

// ---------------------------------------------------------------------------
// Tests

// Every document of every manifest decodes strictly into its typed object.
func TestManifestsDecodeStrictly(t *testing.T) {
	for _, f := range manifestFiles(t) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, d := range splitDocuments(string(data)) {
			if _, _, err := decodeManifest([]byte(d)); err != nil {
				t.Errorf("%s document %d: %v", f, i, err)
			}
		}
	}
}

// A misspelt, miscased, duplicated or mistyped field fails the strict decode.
func TestStrictDecodeRejectsMistakes(t *testing.T) {
	const base = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: demo
spec:
  replicas: 2
  selector:
    matchLabels: {app: demo}
  template:
    metadata:
      labels: {app: demo}
    spec:
      containers:
        - name: demo
          image: demo:1
          imagePullPolicy: IfNotPresent
          readinessProbe:
            httpGet: {path: /readyz, port: 8080}
`
	if _, _, err := decodeManifest([]byte(base)); err != nil {
		t.Fatalf("the valid base manifest fails: %v", err)
	}
	cases := []struct{ name, old, new, want string }{
		{"misspelt field", "  replicas: 2", "  replcas: 2", "replcas"},
		{"miscased field", "  replicas: 2", "  Replicas: 2", "Replicas"},
		{"duplicate field", "  replicas: 2", "  replicas: 2\n  replicas: 3", "replicas"},
		{"misspelt nested field", "imagePullPolicy:", "imagePullPolcy:", "imagePullPolcy"},
		{"misspelt field in a list item", "path: /readyz", "paht: /readyz", "paht"},
		{"wrong type", "replicas: 2", `replicas: "two"`, "replicas"},
		{"unknown kind", "kind: Deployment", "kind: Deploymnet", "Deploymnet"},
		{"missing kind", "kind: Deployment\n", "", "kind"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc := strings.Replace(base, c.old, c.new, 1)
			if doc == base {
				t.Fatalf("case does not change the manifest")
			}
			_, _, err := decodeManifest([]byte(doc))
			if err == nil {
				t.Fatalf("decoded without error")
			}
			t.Logf("error: %v", err)
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not name %q", err, c.want)
			}
		})
	}

	// The same holds for the real expert Deployment.
	data, err := os.ReadFile("expert.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc := splitDocuments(string(data))[0]
	bad := strings.Replace(doc, "\nspec:\n", "\nspec:\n  replcas: 3\n", 1)
	if bad == doc {
		t.Fatal("expert.yaml: no top-level spec to corrupt")
	}
	if _, _, err := decodeManifest([]byte(bad)); err == nil || !strings.Contains(err.Error(), "replcas") {
		t.Errorf("expert.yaml with replcas: got error %v", err)
	}
}

// Every object is in the namespace and carries the common labels; pod
// templates carry them too and match their selectors.
func TestNamespaceAndLabels(t *testing.T) {
	ms := loadManifests(t)
	sawNamespace := false
	for _, m := range ms {
		meta := m.obj.(metav1.Object)
		if ns, ok := m.obj.(*corev1.Namespace); ok {
			sawNamespace = true
			if ns.Name != namespace {
				t.Errorf("%s: namespace name %q, want %q", m, ns.Name, namespace)
			}
			if ns.Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
				t.Errorf("%s: the restricted pod security standard is not enforced", m)
			}
		} else if meta.GetNamespace() != namespace {
			t.Errorf("%s: metadata.namespace %q, want %q", m, meta.GetNamespace(), namespace)
		}
		checkLabels(t, m.String(), meta.GetLabels())
	}
	if !sawNamespace {
		t.Error("no Namespace object")
	}
	for _, d := range all[appsv1.Deployment](ms) {
		checkLabels(t, d.Name+" pod template", d.Spec.Template.Labels)
		if d.Spec.Selector == nil || len(d.Spec.Selector.MatchLabels) == 0 {
			t.Errorf("Deployment %s: empty selector", d.Name)
		} else if !selects(d.Spec.Selector, d.Spec.Template.Labels) {
			t.Errorf("Deployment %s: selector %v does not match template labels %v", d.Name, d.Spec.Selector.MatchLabels, d.Spec.Template.Labels)
		}
	}
	for _, j := range all[batchv1.Job](ms) {
		checkLabels(t, j.Name+" pod template", j.Spec.Template.Labels)
	}
}

func checkLabels(t *testing.T, what string, labels map[string]string) {
	t.Helper()
	for _, k := range []string{labelName, labelPartOf, labelComponent} {
		if labels[k] == "" {
			t.Errorf("%s: label %s missing", what, k)
		}
	}
	if v := labels[labelPartOf]; v != "" && v != namespace {
		t.Errorf("%s: %s=%q, want %q", what, labelPartOf, v, namespace)
	}
}

// Every pod runs hardened: non-root, no privilege escalation, read-only root
// filesystem, all capabilities dropped, RuntimeDefault seccomp, and with CPU
// and memory requests and limits on every container.
func TestPodsAreHardenedAndBounded(t *testing.T) {
	ms := loadManifests(t)
	pts := podTemplates(ms)
	if len(pts) < 3 {
		t.Fatalf("found %d pod templates, want the NATS and expert Deployments and the Job", len(pts))
	}
	for _, pt := range pts {
		spec := &pt.tmpl.Spec
		psc := spec.SecurityContext
		if psc == nil {
			psc = &corev1.PodSecurityContext{}
		}
		if spec.HostNetwork || spec.HostPID || spec.HostIPC {
			t.Errorf("%s: uses a host namespace", pt.owner)
		}
		for _, v := range spec.Volumes {
			if v.HostPath != nil {
				t.Errorf("%s: hostPath volume %s", pt.owner, v.Name)
			}
		}
		if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
			t.Errorf("%s: automountServiceAccountToken should be false (no pod talks to the API server)", pt.owner)
		}
		cs := append(slices.Clone(spec.InitContainers), spec.Containers...)
		if len(cs) == 0 {
			t.Errorf("%s: no containers", pt.owner)
		}
		for i := range cs {
			c := &cs[i]
			what := pt.owner + " container " + c.Name
			sc := c.SecurityContext
			if sc == nil {
				t.Errorf("%s: no securityContext", what)
				continue
			}
			nonRoot := (sc.RunAsNonRoot != nil && *sc.RunAsNonRoot) || (sc.RunAsNonRoot == nil && psc.RunAsNonRoot != nil && *psc.RunAsNonRoot)
			if !nonRoot {
				t.Errorf("%s: runAsNonRoot is not true", what)
			}
			for _, uid := range []*int64{sc.RunAsUser, psc.RunAsUser} {
				if uid != nil && *uid == 0 {
					t.Errorf("%s: runAsUser 0", what)
				}
			}
			seccomp := sc.SeccompProfile
			if seccomp == nil {
				seccomp = psc.SeccompProfile
			}
			if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
				t.Errorf("%s: seccompProfile is not RuntimeDefault", what)
			}
			if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
				t.Errorf("%s: allowPrivilegeEscalation is not false", what)
			}
			if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
				t.Errorf("%s: readOnlyRootFilesystem is not true", what)
			}
			if sc.Privileged != nil && *sc.Privileged {
				t.Errorf("%s: privileged", what)
			}
			if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
				t.Errorf("%s: capabilities do not drop ALL", what)
			} else if len(sc.Capabilities.Add) > 0 {
				t.Errorf("%s: adds capabilities %v", what, sc.Capabilities.Add)
			}
			for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				req, okReq := c.Resources.Requests[r]
				lim, okLim := c.Resources.Limits[r]
				switch {
				case !okReq || req.IsZero():
					t.Errorf("%s: no %s request", what, r)
				case !okLim || lim.IsZero():
					t.Errorf("%s: no %s limit", what, r)
				case req.Cmp(lim) > 0:
					t.Errorf("%s: %s request %s above its limit %s", what, r, req.String(), lim.String())
				}
			}
			// Probes point at declared ports.
			for name, p := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe, "startup": c.StartupProbe} {
				if p == nil || p.HTTPGet == nil {
					continue
				}
				if _, ok := containerPort(c, p.HTTPGet.Port); !ok {
					t.Errorf("%s: %s probe port %s is not a container port", what, name, p.HTTPGet.Port.String())
				}
			}
		}
	}
}

// The expert Deployment: command line, probes, drain time, GOMAXPROCS,
// resources, metrics annotations; and its HPA and PDB.
func TestExpert(t *testing.T) {
	ms := loadManifests(t)
	d := find[appsv1.Deployment](t, ms, expertName)
	spec := &d.Spec.Template.Spec
	c := container(t, spec, expertContainer)

	if d.Spec.Replicas != nil {
		t.Errorf("spec.replicas is set (%d): the HPA owns the replica count, and re-applying would reset it", *d.Spec.Replicas)
	}
	if !slices.Equal(c.Command, []string{"/expert"}) {
		t.Errorf("command %q, want [/expert]", c.Command)
	}
	pos, fl := flags(c.Args)
	if len(pos) > 0 {
		t.Errorf("unexpected positional arguments %q", pos)
	}
	for _, f := range []string{"nats", "concurrency", "http"} {
		if _, ok := fl[f]; !ok {
			t.Errorf("args %q lack -%s", c.Args, f)
		}
	}
	if n, err := strconv.Atoi(fl["concurrency"]); err != nil || n < 1 {
		t.Errorf("-concurrency %q is not a positive integer", fl["concurrency"])
	}
	checkNATSURL(t, ms, "expert -nats", fl["nats"])

	// -http :PORT is the container port the probes and Prometheus use.
	_, portStr, err := splitHostPort(fl["http"])
	if err != nil {
		t.Fatalf("-http %q: %v", fl["http"], err)
	}
	httpPort, _ := strconv.Atoi(portStr)
	if _, ok := containerPort(c, intstr.FromInt32(int32(httpPort))); !ok {
		t.Errorf("-http port %d is not a container port", httpPort)
	}
	ann := d.Spec.Template.Annotations
	if ann["prometheus.io/scrape"] != "true" || ann["prometheus.io/port"] != portStr || ann["prometheus.io/path"] != "/metrics" {
		t.Errorf("prometheus annotations %v, want scrape=true port=%s path=/metrics", ann, portStr)
	}

	probe := func(name string, p *corev1.Probe, wantPath string) {
		t.Helper()
		if p == nil || p.HTTPGet == nil {
			t.Errorf("%s probe: missing or not HTTP", name)
			return
		}
		if p.HTTPGet.Path != wantPath {
			t.Errorf("%s probe path %q, want %q", name, p.HTTPGet.Path, wantPath)
		}
		if port, ok := containerPort(c, p.HTTPGet.Port); !ok || int(port) != httpPort {
			t.Errorf("%s probe port %s, want the -http port %d", name, p.HTTPGet.Port.String(), httpPort)
		}
	}
	probe("readiness", c.ReadinessProbe, "/readyz")
	probe("liveness", c.LivenessProbe, "/healthz")
	probe("startup", c.StartupProbe, "/healthz")

	if g := spec.TerminationGracePeriodSeconds; g == nil || *g != 60 {
		t.Errorf("terminationGracePeriodSeconds %v, want 60 (drain on SIGTERM)", g)
	}

	var gomaxprocs *corev1.EnvVar
	for i := range c.Env {
		if c.Env[i].Name == "GOMAXPROCS" {
			gomaxprocs = &c.Env[i]
		}
	}
	if gomaxprocs == nil || gomaxprocs.ValueFrom == nil || gomaxprocs.ValueFrom.ResourceFieldRef == nil {
		t.Error("GOMAXPROCS is not set from a resourceFieldRef")
	} else if ref := gomaxprocs.ValueFrom.ResourceFieldRef; ref.Resource != "limits.cpu" || (ref.ContainerName != "" && ref.ContainerName != c.Name) {
		t.Errorf("GOMAXPROCS from %s of container %q, want limits.cpu of %q", ref.Resource, ref.ContainerName, c.Name)
	} else if !ref.Divisor.IsZero() && ref.Divisor.Cmp(mustQuantity("1")) != 0 {
		t.Errorf("GOMAXPROCS divisor %s, want 1 (whole CPUs)", ref.Divisor.String())
	}

	for r, want := range map[string]string{"requests.cpu": "1", "requests.memory": "1Gi", "limits.cpu": "2", "limits.memory": "2Gi"} {
		kind, name, _ := strings.Cut(r, ".")
		list := c.Resources.Requests
		if kind == "limits" {
			list = c.Resources.Limits
		}
		got, ok := list[corev1.ResourceName(name)]
		if !ok || got.Cmp(mustQuantity(want)) != 0 {
			t.Errorf("resources.%s = %s, want %s", r, got.String(), want)
		}
	}

	// HPA: targets this Deployment on CPU utilisation, 2..16, slow scale-down.
	hpas := all[autoscalingv2.HorizontalPodAutoscaler](ms)
	if len(hpas) != 1 {
		t.Fatalf("%d HorizontalPodAutoscalers, want 1", len(hpas))
	}
	h := hpas[0]
	if ref := h.Spec.ScaleTargetRef; ref.APIVersion != "apps/v1" || ref.Kind != "Deployment" || ref.Name != d.Name {
		t.Errorf("HPA targets %s %s %s, want apps/v1 Deployment %s", ref.APIVersion, ref.Kind, ref.Name, d.Name)
	}
	if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas != 2 || h.Spec.MaxReplicas != 16 {
		t.Errorf("HPA replicas %v..%d, want 2..16", h.Spec.MinReplicas, h.Spec.MaxReplicas)
	}
	cpuTarget := false
	for _, m := range h.Spec.Metrics {
		if m.Type == autoscalingv2.ResourceMetricSourceType && m.Resource != nil && m.Resource.Name == corev1.ResourceCPU &&
			m.Resource.Target.Type == autoscalingv2.UtilizationMetricType && m.Resource.Target.AverageUtilization != nil &&
			*m.Resource.Target.AverageUtilization == 70 {
			cpuTarget = true
		}
	}
	if !cpuTarget {
		t.Error("HPA has no 70 % CPU utilisation target")
	}
	if b := h.Spec.Behavior; b == nil || b.ScaleDown == nil || b.ScaleDown.StabilizationWindowSeconds == nil || *b.ScaleDown.StabilizationWindowSeconds <= 0 {
		t.Error("HPA has no scale-down stabilisation window")
	}

	// PDB: selects the experts and lets at least one go.
	pdbs := all[policyv1.PodDisruptionBudget](ms)
	if len(pdbs) != 1 {
		t.Fatalf("%d PodDisruptionBudgets, want 1", len(pdbs))
	}
	p := pdbs[0]
	if !selects(p.Spec.Selector, d.Spec.Template.Labels) {
		t.Errorf("PDB selector %v does not select the expert pods", p.Spec.Selector)
	}
	switch {
	case p.Spec.MaxUnavailable != nil:
		if p.Spec.MaxUnavailable.Type == intstr.Int && p.Spec.MaxUnavailable.IntVal < 1 {
			t.Error("PDB maxUnavailable < 1 blocks every drain")
		}
	case p.Spec.MinAvailable != nil:
		if p.Spec.MinAvailable.Type == intstr.Int && h.Spec.MinReplicas != nil && p.Spec.MinAvailable.IntVal >= *h.Spec.MinReplicas {
			t.Error("PDB minAvailable >= HPA minReplicas blocks every drain")
		}
	default:
		t.Error("PDB sets neither maxUnavailable nor minAvailable")
	}
}

func splitHostPort(addr string) (host, port string, err error) {
	i := strings.LastIndex(addr, ":")
	if i < 0 {
		return "", "", errors.New("no port")
	}
	host, port = addr[:i], addr[i+1:]
	if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
		return "", "", fmt.Errorf("bad port %q", port)
	}
	return host, port, nil
}

// checkNATSURL checks that a nats:// URL names the NATS Service of this
// namespace and its client port.
func checkNATSURL(t *testing.T, ms []manifest, what, raw string) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "nats" {
		t.Errorf("%s %q is not a nats:// URL", what, raw)
		return
	}
	svc := find[corev1.Service](t, ms, natsName)
	want := svc.Name + "." + svc.Namespace + ".svc"
	if h := u.Hostname(); h != want && h != want+".cluster.local" {
		t.Errorf("%s host %q, want %q (the NATS Service)", what, h, want)
	}
	port := u.Port()
	if port == "" {
		port = "4222"
	}
	for _, p := range svc.Spec.Ports {
		if strconv.Itoa(int(p.Port)) == port {
			return
		}
	}
	t.Errorf("%s port %s is not a port of Service %s", what, port, svc.Name)
}

// The coordinator Job: command line, config mount from the ConfigMap, output
// volume, retry and lifetime limits.
func TestCoordinatorJob(t *testing.T) {
	ms := loadManifests(t)
	j := find[batchv1.Job](t, ms, jobName)
	spec := &j.Spec.Template.Spec
	if len(spec.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(spec.Containers))
	}
	c := &spec.Containers[0]

	if spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("restartPolicy %q, want Never", spec.RestartPolicy)
	}
	if j.Spec.BackoffLimit == nil || *j.Spec.BackoffLimit != 1 {
		t.Errorf("backoffLimit %v, want 1", j.Spec.BackoffLimit)
	}
	if j.Spec.ActiveDeadlineSeconds == nil || *j.Spec.ActiveDeadlineSeconds <= 0 {
		t.Error("no activeDeadlineSeconds")
	}
	if j.Spec.TTLSecondsAfterFinished == nil || *j.Spec.TTLSecondsAfterFinished <= 0 {
		t.Error("no ttlSecondsAfterFinished")
	}

	if !slices.Equal(c.Command, []string{"/coordinator"}) {
		t.Errorf("command %q, want [/coordinator]", c.Command)
	}
	pos, fl := flags(c.Args)
	if !slices.Equal(pos, []string{"solve"}) {
		t.Errorf("subcommand %q, want [solve]", pos)
	}
	if fl["experts"] != "0" {
		t.Errorf("-experts %q, want 0 (experts are the Deployment)", fl["experts"])
	}
	checkNATSURL(t, ms, "coordinator -nats", fl["nats"])
	expert := container(t, &find[appsv1.Deployment](t, ms, expertName).Spec.Template.Spec, expertContainer)
	if _, efl := flags(expert.Args); efl["nats"] != fl["nats"] {
		t.Errorf("coordinator -nats %q differs from the experts' %q", fl["nats"], efl["nats"])
	}

	mountOf := func(p string) (*corev1.VolumeMount, *corev1.Volume) {
		for i := range c.VolumeMounts {
			m := &c.VolumeMounts[i]
			if m.MountPath == p {
				for k := range spec.Volumes {
					if spec.Volumes[k].Name == m.Name {
						return m, &spec.Volumes[k]
					}
				}
				t.Fatalf("volumeMount %s names no volume", m.Name)
			}
		}
		return nil, nil
	}

	// -config DIR/FILE: DIR is the ConfigMap, FILE one of its keys.
	cfgPath := fl["config"]
	if cfgPath == "" {
		t.Fatal("no -config")
	}
	m, v := mountOf(path.Dir(cfgPath))
	if m == nil {
		t.Fatalf("-config %s: nothing is mounted at %s", cfgPath, path.Dir(cfgPath))
	}
	if v.ConfigMap == nil || v.ConfigMap.Name != hcmoeConfigMap {
		t.Fatalf("volume at %s is not ConfigMap %s", m.MountPath, hcmoeConfigMap)
	}
	if !m.ReadOnly {
		t.Errorf("config mount is not readOnly")
	}
	key := path.Base(cfgPath)
	for _, it := range v.ConfigMap.Items {
		if it.Path == key {
			key = it.Key
		}
	}
	cm := find[corev1.ConfigMap](t, ms, v.ConfigMap.Name)
	cfg, ok := cm.Data[key]
	if !ok {
		t.Fatalf("ConfigMap %s has no key %q for -config %s", cm.Name, key, cfgPath)
	}
	checkSolverConfig(t, cfg, fl)

	// -out is a writable volume.
	outPath := fl["out"]
	m, v = mountOf(outPath)
	switch {
	case m == nil:
		t.Errorf("-out %s: nothing is mounted there (the root filesystem is read-only)", outPath)
	case m.ReadOnly:
		t.Errorf("-out %s is mounted readOnly", outPath)
	case v.EmptyDir == nil && v.PersistentVolumeClaim == nil:
		t.Errorf("-out %s is neither an emptyDir nor a PVC", outPath)
	}
}

// checkSolverConfig checks the hcmoe config in the ConfigMap: YAML without
// duplicate keys, only the top-level sections DESIGN.md §4.2 defines, a heat
// problem, no in-process experts (as -experts 0 says).
func checkSolverConfig(t *testing.T, cfg string, fl map[string]string) {
	t.Helper()
	var c map[string]any
	if err := yaml.UnmarshalStrict([]byte(cfg), &c); err != nil {
		t.Fatalf("config.yaml: %v", err)
	}
	known := []string{"pde", "mesh", "experts", "solver", "basis", "derivatives", "train", "data", "transport"}
	for k := range c {
		if !slices.Contains(known, k) {
			t.Errorf("config.yaml: unknown section %q", k)
		}
	}
	for _, k := range []string{"pde", "mesh", "experts", "basis"} {
		if _, ok := c[k]; !ok {
			t.Errorf("config.yaml: no %s section", k)
		}
	}
	pde, _ := c["pde"].(map[string]any)
	if pde["name"] != "heat" {
		t.Errorf("config.yaml: pde.name %v, want heat", pde["name"])
	}
	if first, _, _ := strings.Cut(strings.TrimSpace(cfg), "\n"); strings.HasPrefix(first, "#") && !strings.Contains(first, "heat") {
		t.Errorf("config.yaml: comment %q does not describe the heat problem", first)
	}
	tr, _ := c["transport"].(map[string]any)
	if n, ok := tr["local_experts"]; ok && n != float64(0) {
		t.Errorf("config.yaml: transport.local_experts %v, but the Job runs -experts %s", n, fl["experts"])
	}
}

// NATS: the server config (parsed by NATS' own config parser) raises
// max_payload to at least 8MB and agrees with the ports of the Deployment,
// the probes and the Service.
func TestNATS(t *testing.T) {
	ms := loadManifests(t)
	cm := find[corev1.ConfigMap](t, ms, natsConfigMap)
	text, ok := cm.Data[natsConfKey]
	if !ok {
		t.Fatalf("ConfigMap %s has no %s", cm.Name, natsConfKey)
	}
	if _, err := conf.ParseWithChecks(text); err != nil { // pedantic mode
		t.Fatalf("%s: %v", natsConfKey, err)
	}
	cfg, err := conf.Parse(text)
	if err != nil {
		t.Fatalf("%s: %v", natsConfKey, err)
	}
	maxPayload, ok := cfg["max_payload"]
	if !ok {
		t.Fatal("max_payload not set (default 1MB)")
	}
	mp := natsSize(t, maxPayload)
	if mp < minMaxPayload {
		t.Errorf("max_payload %d < %d", mp, minMaxPayload)
	}
	if mp > 64<<20 {
		t.Errorf("max_payload %d above NATS' 64MB ceiling", mp)
	}
	pending := int64(64 << 20) // NATS' default
	if v, ok := cfg["max_pending"]; ok {
		pending = natsSize(t, v)
	}
	if pending < mp {
		t.Errorf("max_pending %d < max_payload %d", pending, mp)
	}
	clientPort, monitorPort := int64(4222), int64(0)
	if v, ok := cfg["port"].(int64); ok {
		clientPort = v
	}
	if v, ok := cfg["http_port"].(int64); ok {
		monitorPort = v
	} else if v, ok := cfg["http"]; ok {
		t.Fatalf("monitor set as http: %v; use http_port", v)
	}
	if clientPort != 4222 || monitorPort != 8222 {
		t.Errorf("ports client %d monitor %d, want 4222 and 8222", clientPort, monitorPort)
	}

	d := find[appsv1.Deployment](t, ms, natsName)
	spec := &d.Spec.Template.Spec
	if len(spec.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(spec.Containers))
	}
	c := &spec.Containers[0]
	if !strings.HasPrefix(c.Image, "nats:2.10") {
		t.Errorf("image %q, want nats:2.10-alpine", c.Image)
	}
	if d.Spec.Replicas != nil && *d.Spec.Replicas != 1 {
		t.Errorf("%d replicas of an unclustered server", *d.Spec.Replicas)
	}
	if d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("strategy %q: a rolling update runs two unclustered servers side by side", d.Spec.Strategy.Type)
	}
	_, fl := flags(c.Args)
	confPath := fl["c"]
	if confPath == "" {
		confPath = fl["config"]
	}
	if confPath == "" {
		t.Fatalf("args %q do not pass -c CONFIG", c.Args)
	}
	mounted := false
	for _, m := range c.VolumeMounts {
		if m.MountPath != path.Dir(confPath) {
			continue
		}
		for _, v := range spec.Volumes {
			if v.Name == m.Name && v.ConfigMap != nil && v.ConfigMap.Name == cm.Name && len(v.ConfigMap.Items) == 0 && path.Base(confPath) == natsConfKey {
				mounted = true
			}
		}
	}
	if !mounted {
		t.Errorf("-c %s is not the %s key of ConfigMap %s mounted at %s", confPath, natsConfKey, cm.Name, path.Dir(confPath))
	}
	for name, want := range map[string]int64{"client": clientPort, "monitor": monitorPort} {
		if p, ok := containerPort(c, intstr.FromString(name)); !ok || int64(p) != want {
			t.Errorf("container port %s = %d, want %d", name, p, want)
		}
	}
	for name, p := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/healthz" {
			t.Errorf("%s probe is not HTTP /healthz", name)
			continue
		}
		if port, _ := containerPort(c, p.HTTPGet.Port); int64(port) != monitorPort {
			t.Errorf("%s probe port %d, want the monitor port %d", name, port, monitorPort)
		}
	}

	svc := find[corev1.Service](t, ms, natsName)
	if !subset(svc.Spec.Selector, d.Spec.Template.Labels) || len(svc.Spec.Selector) == 0 {
		t.Errorf("Service selector %v does not select the NATS pods", svc.Spec.Selector)
	}
	got := map[int32]int32{}
	for _, p := range svc.Spec.Ports {
		target := p.TargetPort
		if target.Type == intstr.Int && target.IntVal == 0 {
			target = intstr.FromInt32(p.Port)
		}
		cp, ok := containerPort(c, target)
		if !ok {
			t.Errorf("Service port %d: target %s is not a container port", p.Port, target.String())
		}
		got[p.Port] = cp
	}
	if got[4222] != int32(clientPort) || got[8222] != int32(monitorPort) {
		t.Errorf("Service ports %v, want 4222->%d and 8222->%d", got, clientPort, monitorPort)
	}
}

// The Helm values are well-formed and raise max_payload the same way.
func TestNATSHelmValues(t *testing.T) {
	data, err := os.ReadFile(helmValuesFile)
	if err != nil {
		t.Fatal(err)
	}
	j, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		t.Fatalf("%s: %v", helmValuesFile, err)
	}
	var v struct {
		FullnameOverride string `json:"fullnameOverride"`
		Config           struct {
			Monitor struct {
				Enabled bool  `json:"enabled"`
				Port    int64 `json:"port"`
			} `json:"monitor"`
			Merge map[string]any `json:"merge"`
		} `json:"config"`
	}
	if err := json.Unmarshal(j, &v); err != nil {
		t.Fatalf("%s: %v", helmValuesFile, err)
	}
	mp, ok := v.Config.Merge["max_payload"]
	if !ok {
		t.Fatal("config.merge.max_payload not set")
	}
	// The chart writes "<< X >>" unquoted into nats.conf.
	if s, ok := mp.(string); ok {
		s = strings.TrimSpace(s)
		if !strings.HasPrefix(s, "<<") || !strings.HasSuffix(s, ">>") {
			t.Fatalf("config.merge.max_payload %q: a size with units must be written << 8MB >>", s)
		}
		mp = strings.TrimSpace(s[2 : len(s)-2])
	}
	if n := natsSize(t, mp); n < minMaxPayload {
		t.Errorf("config.merge.max_payload %d < %d", n, minMaxPayload)
	}
	if v.FullnameOverride != natsName {
		t.Errorf("fullnameOverride %q, want %q (the address the experts and the Job dial)", v.FullnameOverride, natsName)
	}
	if !v.Config.Monitor.Enabled || v.Config.Monitor.Port != 8222 {
		t.Errorf("config.monitor %+v, want enabled on 8222", v.Config.Monitor)
	}
}

// NetworkPolicies: default-deny ingress; NATS clients only from hcmoe pods;
// metrics and NATS monitoring only from the monitoring namespace.
func TestNetworkPolicies(t *testing.T) {
	ms := loadManifests(t)
	pols := all[networkingv1.NetworkPolicy](ms)
	nats := find[appsv1.Deployment](t, ms, natsName).Spec.Template.Labels
	expert := find[appsv1.Deployment](t, ms, expertName).Spec.Template.Labels
	job := find[batchv1.Job](t, ms, jobName).Spec.Template.Labels
	pods := podTemplates(ms)

	defaultDeny := false
	for _, p := range pols {
		if !slices.Contains(p.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) {
			t.Errorf("NetworkPolicy %s: policyTypes %v lack Ingress", p.Name, p.Spec.PolicyTypes)
		}
		if len(p.Spec.PodSelector.MatchLabels) == 0 && len(p.Spec.PodSelector.MatchExpressions) == 0 {
			if len(p.Spec.Ingress) == 0 {
				defaultDeny = true
			} else {
				t.Errorf("NetworkPolicy %s: opens ingress to every pod", p.Name)
			}
			continue
		}
		matched := false
		for _, pt := range pods {
			matched = matched || selects(&p.Spec.PodSelector, pt.tmpl.Labels)
		}
		if !matched {
			t.Errorf("NetworkPolicy %s: podSelector %v selects no pod", p.Name, p.Spec.PodSelector.MatchLabels)
		}
		for i, r := range p.Spec.Ingress {
			if len(r.From) == 0 {
				t.Errorf("NetworkPolicy %s rule %d: no from, allows everyone", p.Name, i)
			}
			if len(r.Ports) == 0 {
				t.Errorf("NetworkPolicy %s rule %d: no ports, allows every port", p.Name, i)
			}
		}
	}
	if !defaultDeny {
		t.Error("no default-deny ingress policy (empty podSelector, no ingress rules)")
	}

	// allowed returns the peers allowed into pods with labels on port.
	allowed := func(labels map[string]string, port int32) []networkingv1.NetworkPolicyPeer {
		var peers []networkingv1.NetworkPolicyPeer
		for _, p := range pols {
			if !selects(&p.Spec.PodSelector, labels) {
				continue
			}
			for _, r := range p.Spec.Ingress {
				for _, rp := range r.Ports {
					if rp.Port != nil && rp.Port.Type == intstr.Int && rp.Port.IntVal == port &&
						(rp.Protocol == nil || *rp.Protocol == corev1.ProtocolTCP) {
						peers = append(peers, r.From...)
					}
				}
			}
		}
		return peers
	}

	// 4222: hcmoe pods of this namespace only, and they include the experts
	// and the coordinator.
	peers := allowed(nats, 4222)
	if len(peers) == 0 {
		t.Error("nothing may reach NATS on 4222")
	}
	for _, peer := range peers {
		if peer.NamespaceSelector != nil || peer.IPBlock != nil || peer.PodSelector == nil ||
			peer.PodSelector.MatchLabels[labelPartOf] != namespace {
			t.Errorf("NATS 4222 peer %+v is not limited to %s=%s pods of this namespace", peer, labelPartOf, namespace)
			continue
		}
		if !selects(peer.PodSelector, expert) || !selects(peer.PodSelector, job) {
			t.Errorf("NATS 4222 peer %v does not let in the experts and the coordinator", peer.PodSelector.MatchLabels)
		}
	}

	// 8080 on the experts and 8222 on NATS: a monitoring namespace only.
	for _, c := range []struct {
		what   string
		labels map[string]string
		port   int32
	}{{"expert metrics", expert, 8080}, {"NATS monitor", nats, 8222}} {
		peers := allowed(c.labels, c.port)
		if len(peers) == 0 {
			t.Errorf("%s: nothing may reach port %d", c.what, c.port)
		}
		for _, peer := range peers {
			if peer.NamespaceSelector == nil || len(peer.NamespaceSelector.MatchLabels)+len(peer.NamespaceSelector.MatchExpressions) == 0 || peer.IPBlock != nil {
				t.Errorf("%s: peer %+v is not limited to a labelled namespace", c.what, peer)
			}
		}
	}
}

// kustomization is the part of kustomize's Kustomization these files use;
// strict decoding makes a misspelt or unsupported field an error.
type kustomization struct {
	APIVersion   string            `json:"apiVersion"`
	Kind         string            `json:"kind"`
	Namespace    string            `json:"namespace"`
	Resources    []string          `json:"resources"`
	CommonLabels map[string]string `json:"commonLabels"`
	Labels       []struct {
		Pairs            map[string]string `json:"pairs"`
		IncludeSelectors bool              `json:"includeSelectors"`
		IncludeTemplates bool              `json:"includeTemplates"`
	} `json:"labels"`
	Images []struct {
		Name    string `json:"name"`
		NewName string `json:"newName"`
		NewTag  string `json:"newTag"`
		Digest  string `json:"digest"`
	} `json:"images"`
}

func TestKustomization(t *testing.T) {
	data, err := os.ReadFile(kustomizationFile)
	if err != nil {
		t.Fatal(err)
	}
	j, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		t.Fatalf("%s: %v", kustomizationFile, err)
	}
	var k kustomization
	if err := decodeStrict(j, &k); err != nil {
		t.Fatalf("%s: %v", kustomizationFile, err)
	}
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
		t.Errorf("apiVersion/kind %s/%s", k.APIVersion, k.Kind)
	}
	if k.Namespace != namespace {
		t.Errorf("namespace %q, want %q", k.Namespace, namespace)
	}

	listed := map[string]bool{}
	for _, r := range k.Resources {
		if listed[r] {
			t.Errorf("resource %s listed twice", r)
		}
		listed[r] = true
		if st, err := os.Stat(r); err != nil || st.IsDir() {
			t.Errorf("resource %s: not a file here", r)
		}
	}
	for _, f := range manifestFiles(t) {
		if !listed[f] {
			t.Errorf("manifest %s is not listed in %s", f, kustomizationFile)
		}
	}

	partOf := k.CommonLabels[labelPartOf]
	for _, l := range k.Labels {
		if v, ok := l.Pairs[labelPartOf]; ok {
			partOf = v
			if !l.IncludeTemplates {
				t.Errorf("labels: %s is not applied to pod templates", labelPartOf)
			}
		}
	}
	if partOf != namespace {
		t.Errorf("common label %s=%q, want %q", labelPartOf, partOf, namespace)
	}

	var names []string
	for _, im := range k.Images {
		names = append(names, im.Name)
	}
	if !slices.Contains(names, hcmoeImageName) {
		t.Errorf("images %v: no entry for %s", names, hcmoeImageName)
	}
	// Every hcmoe container uses an image the images entry rewrites.
	uses := 0
	for _, pt := range podTemplates(loadManifests(t)) {
		for _, c := range pt.tmpl.Spec.Containers {
			if len(c.Command) > 0 && (c.Command[0] == "/expert" || c.Command[0] == "/coordinator") {
				uses++
				if imageName(c.Image) != hcmoeImageName {
					t.Errorf("%s container %s: image %q, want %s:TAG (rewritten by kustomize images)", pt.owner, c.Name, c.Image, hcmoeImageName)
				}
			}
		}
	}
	if uses < 2 {
		t.Errorf("%d containers run hcmoe binaries, want the expert and the coordinator", uses)
	}
}

// dockerInstruction is one Dockerfile instruction with continuation lines
// joined.
type dockerInstruction struct {
	op   string // upper case
	args string
}

func parseDockerfile(t *testing.T, text string) []dockerInstruction {
	t.Helper()
	var out []dockerInstruction
	var cur strings.Builder
	flush := func() {
		s := strings.TrimSpace(cur.String())
		cur.Reset()
		if s == "" {
			return
		}
		op, args, _ := strings.Cut(s, " ")
		out = append(out, dockerInstruction{strings.ToUpper(op), strings.TrimSpace(args)})
	}
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") {
			continue // comments (and parser directives)
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		flush()
	}
	flush()
	return out
}

// The image: a Go builder with CGO disabled, a static distroless (or scratch)
// final stage holding both binaries at the paths the manifests run, a
// non-root USER and no shell-based RUN in the final stage.
func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile(dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	ins := parseDockerfile(t, string(data))
	lastFrom := -1
	var froms []string
	for i, in := range ins {
		if in.op == "FROM" {
			lastFrom = i
			froms = append(froms, in.args)
		}
	}
	if len(froms) < 2 {
		t.Fatalf("FROM lines %q: want a multi-stage build", froms)
	}
	fromImage := func(args string) string {
		for _, f := range strings.Fields(args) {
			if !strings.HasPrefix(f, "--") {
				return f
			}
		}
		return ""
	}
	if b := fromImage(froms[0]); !strings.HasPrefix(b, "golang:1.26") {
		t.Errorf("builder %q, want golang:1.26", b)
	}
	final := fromImage(ins[lastFrom].args)
	if !strings.HasPrefix(final, "gcr.io/distroless/static") && final != "scratch" {
		t.Errorf("final stage %q is neither distroless static nor scratch", final)
	}

	builder, finalStage := ins[:lastFrom], ins[lastFrom+1:]
	cgo, build := false, ""
	for _, in := range builder {
		if (in.op == "ENV" || in.op == "RUN" || in.op == "ARG") && regexp.MustCompile(`\bCGO_ENABLED=0\b`).MatchString(in.args) {
			cgo = true
		}
		if in.op == "RUN" && strings.Contains(in.args, "go build") {
			build = in.args
		}
	}
	if !cgo {
		t.Error("CGO_ENABLED=0 is not set in the builder")
	}
	for _, want := range []string{"-trimpath", "./cmd/coordinator", "./cmd/expert", "--mount=type=cache"} {
		if !strings.Contains(build, want) {
			t.Errorf("go build step %q lacks %s", build, want)
		}
	}

	user, copied, exposed := "", map[string]bool{}, false
	for _, in := range finalStage {
		switch in.op {
		case "USER":
			user = in.args
		case "COPY":
			f := strings.Fields(in.args)
			if len(f) >= 3 && strings.HasPrefix(f[0], "--from=") {
				copied[f[len(f)-1]] = true
			}
		case "EXPOSE":
			exposed = exposed || slices.Contains(strings.Fields(in.args), "8080")
		case "RUN":
			t.Errorf("RUN %q in the final stage: it has no shell", in.args)
		}
	}
	u, _, _ := strings.Cut(user, ":")
	switch {
	case u == "":
		t.Error("no USER in the final stage")
	case u == "root" || u == "0":
		t.Errorf("USER %q is root", user)
	case u != "nonroot":
		if n, err := strconv.Atoi(u); err != nil || n <= 0 {
			t.Errorf("USER %q: want nonroot or a numeric non-root uid", user)
		}
	}
	if final == "scratch" && u == "nonroot" {
		t.Error("scratch has no /etc/passwd: USER must be numeric")
	}
	for _, bin := range []string{"/coordinator", "/expert"} {
		if !copied[bin] {
			t.Errorf("%s is not copied into the final stage", bin)
		}
	}
	if !exposed {
		t.Error("EXPOSE 8080 missing")
	}
}
