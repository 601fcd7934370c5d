# hcmoe build, test and benchmark targets.
GO ?= go
NUMERIC := ./mesh/... ./pde/... ./krylov/... ./constraint/... ./implicit/... ./npz/... ./fft/... ./model/... ./train/...

.PHONY: build test bench fuzz vet
build:
	$(GO) build ./...

vet:
	$(GO) vet ./...

# The test command README states and .ci/run executes.
test:
	$(GO) vet ./...
	$(GO) test -race $(NUMERIC)
	$(GO) test ./...

bench:
	$(GO) test -run '^$$' -bench . -benchtime 3x $(NUMERIC)

# Short fuzzing sessions of every decoder (longer: FUZZTIME=10m make fuzz).
FUZZTIME ?= 30s
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzRead -fuzztime $(FUZZTIME) ./npz/
	$(GO) test -run '^$$' -fuzz FuzzReadNPY -fuzztime $(FUZZTIME) ./npz/
	$(GO) test -run '^$$' -fuzz FuzzReadProblem -fuzztime $(FUZZTIME) ./constraint/
	$(GO) test -run '^$$' -fuzz FuzzUnmarshal -fuzztime $(FUZZTIME) ./transport/
	$(GO) test -run '^$$' -fuzz FuzzReassemble -fuzztime $(FUZZTIME) ./transport/
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME) ./config/

# The coordinator's embedded NATS server plus K separate expert processes on
# configs/demo.yaml (K=4 by default; stops every process, on Ctrl-C too).
.PHONY: demo
demo:
	./scripts/demo.sh
