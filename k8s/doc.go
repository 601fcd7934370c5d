// Package k8s holds hcmoe's deployment files, not Go code: the container
// image (Dockerfile), the Kubernetes manifests applied with
// `kubectl apply -k k8s/` (namespace, NATS, the expert Deployment with its
// PodDisruptionBudget and HorizontalPodAutoscaler, the coordinator Job with its
// ConfigMap, network policies, kustomization.yaml) and values for the official
// NATS Helm chart.
//
// Its test (manifests_test.go) needs no cluster: it decodes every manifest
// strictly into the typed objects of k8s.io/api, so that a misspelt field
// fails, and checks that the files agree with each other and with the
// hardening and probes hcmoe expects.
package k8s
