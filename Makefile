# feedbatch: common tasks. The CI entry point is .ci/run.
GO ?= go
PKGS := ./...

.PHONY: build test test-short conformance fuzz bench golden lint cfn-lint e2e docker

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/feedbatch ./cmd/feedbatch

test:
	$(GO) test -race $(PKGS)

test-short:
	$(GO) test -short $(PKGS)

conformance:
	$(GO) test -race -run 'Conformance|StageContract|StageFails|StagePasses' ./store/... ./engine/... ./stages/...

# Each fuzz target for FUZZTIME (go test -fuzz takes one target at a time).
FUZZTIME ?= 30s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

bench:
	@for s in bench/*.sh; do echo "== $$s"; sh $$s || exit 1; done

golden:
	$(GO) test ./stages/... ./manifest/... -update

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet $(PKGS)

cfn-lint:
	cfn-lint cfn/template.yaml

e2e: build
	./bin/feedbatch run

docker:
	docker build -f docker/Dockerfile -t feedbatch .
