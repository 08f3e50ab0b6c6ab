# vchain: build, run and test. `make run` and `make test` are the two commands of README.md.

GO        ?= go
BUILD     := build
HOME_DIR  ?= $(CURDIR)/.localnet/node
CHAIN_ID  ?= vchain-local
# The read-only web console of `make run` (CONSOLE= turns it off).
CONSOLE   ?= 127.0.0.1:26670
# Flags that make a contract module byte-identical on every machine with the same Go
# (CGO_ENABLED is pinned too: Go records it in the module, and CI exports CGO_ENABLED=1).
WASM_FLAGS := -buildmode=c-shared -trimpath -buildvcs=false -ldflags=-buildid=
CONTRACT_VERSIONS := v1 v2 v3

LOCALNET  ?= $(CURDIR)/.localnet/testnet

.PHONY: all build contracts run localnet localnet-stop image-local docker-testnet demo test test-short soak fuzz-short bench proto lint check-tree clean

all: build

## build: vchaind and the contract modules into build/
build: contracts
	$(GO) build -buildvcs=false -o $(BUILD)/vchaind ./cmd/vchaind

## contracts: build/contracts/vN.wasm from contracts/vN (deterministic: same sha256 on rebuild)
contracts:
	@mkdir -p $(BUILD)/contracts
	@for v in $(CONTRACT_VERSIONS); do \
		CGO_ENABLED=0 GOOS=wasip1 GOARCH=wasm $(GO) build $(WASM_FLAGS) -o $(BUILD)/contracts/$$v.wasm ./contracts/$$v || exit 1; \
		echo "contracts/$$v -> $(BUILD)/contracts/$$v.wasm sha256 $$(sha256sum $(BUILD)/contracts/$$v.wasm | cut -c1-64)"; \
	done

## run: a single-validator local chain in .localnet/node (created on first run), in the foreground;
## its keys are plain files (keyring backend test): a development chain, not a network's;
## its web console is at http://$(CONSOLE)/
run: build
	@if [ ! -f $(HOME_DIR)/config/genesis.json ]; then \
		$(BUILD)/vchaind init --home $(HOME_DIR) --chain-id $(CHAIN_ID) --runtime $(BUILD)/contracts/v1.wasm --keyring-backend test; \
	fi
	$(BUILD)/vchaind start --home $(HOME_DIR) --console-laddr "$(CONSOLE)"

## localnet: a 4-validator testnet of real processes in .localnet/testnet (created on first run)
localnet: build
	@if [ ! -f $(LOCALNET)/testnet.json ]; then \
		$(BUILD)/vchaind testnet init --validators 4 --output $(LOCALNET) --runtime $(BUILD)/contracts/v1.wasm; \
	fi
	$(BUILD)/vchaind testnet start $(LOCALNET)
	$(BUILD)/vchaind testnet status $(LOCALNET)

## image-local: the vchain:local image without pulling anything (Dockerfile.local: FROM
## scratch over a static vchaind and build/contracts), with podman, else docker
ENGINE ?= $(shell command -v podman >/dev/null 2>&1 && echo podman || echo docker)
image-local: contracts
	@mkdir -p $(BUILD)/image
	CGO_ENABLED=0 $(GO) build -buildvcs=false -trimpath -o $(BUILD)/image/vchaind ./cmd/vchaind
	rm -rf $(BUILD)/image/contracts && cp -r $(BUILD)/contracts $(BUILD)/image/contracts
	$(ENGINE) build -f Dockerfile.local -t vchain:local $(BUILD)/image

## docker-testnet: the homes docker-compose.yml runs. Then, where base images can be pulled:
##   docker compose up --build -d
## and where they cannot (podman; see README "Running a network across machines"):
##   make image-local && podman-compose up -d
docker-testnet: build
	$(BUILD)/vchaind testnet init --validators 4 --docker --output $(CURDIR)/.localnet/docker --runtime $(BUILD)/contracts/v1.wasm

localnet-stop:
	$(BUILD)/vchaind testnet stop $(LOCALNET)

## demo: the whole idea in two minutes: a live upgrade and downgrade under load
demo: build
	$(GO) run ./testnet/demo --bin $(BUILD)/vchaind --contracts $(BUILD)/contracts --dir $(CURDIR)/.localnet/demo

## test: every test, end-to-end networks included (a 2-minute soak, the crash points, the
## disk faults); the app's packages again under the race detector (CometBFT calls CheckTx,
## Query and FinalizeBlock from different goroutines); the crash-point switch itself; every
## fuzz target briefly; the profile vectors with the test-only profile 2 too; and no build
## output in the tree
test:
	$(MAKE) --no-print-directory check-tree
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 50m ./...
	$(GO) test -race -short -count=1 -timeout 30m ./abci/... ./app/... ./internal/node/...
	$(GO) test -count=1 -tags crashpoints ./internal/crashpoint
	$(GO) test -count=1 -tags faults ./internal/fault
	$(GO) test -count=1 -tags vchain_profile2 -run 'TestProfileVectors|TestSupportedIsContiguous|TestProfileGates' ./app/profile ./app/executor
	$(MAKE) --no-print-directory fuzz-short FUZZTIME=3s

## test-short: skips the long end-to-end tests
test-short:
	$(GO) test -short -count=1 ./...

## soak: 4 validator processes under load, one killed -9 and restarted every few seconds,
## across a switch and a downgrade; checks nothing acknowledged is lost (SOAK_DURATION=8m for longer;
## SOAK_REPORT=file.json writes the figures)
SOAK_DURATION ?= 3m
soak:
	VCHAIN_SOAK_DURATION=$(SOAK_DURATION) VCHAIN_SOAK_REPORT=$(SOAK_REPORT) $(GO) test ./testnet -run '^TestSoak$$' -count=1 -v -timeout 45m

## fuzz-short: every fuzz target for FUZZTIME each (go allows one -fuzz target per package
## per run). `go test` alone already replays the committed seed corpora in testdata/fuzz.
## -fuzzminimizetime keeps a flaky-coverage "interesting" input from stalling a short run.
FUZZTIME ?= 5s
FUZZ = $(GO) test -run '^$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s -fuzz
fuzz-short:
	$(FUZZ) '^FuzzDecode$$' ./app/tx
	$(FUZZ) '^FuzzVerify$$' ./app/tx
	$(FUZZ) '^FuzzCheckTx$$' ./app/executor
	$(FUZZ) '^FuzzCheckTxSigned$$' ./app/executor
	$(FUZZ) '^FuzzQuery$$' ./app/executor
	$(FUZZ) '^FuzzInstall$$' ./app/runtime
	$(FUZZ) '^FuzzLoad$$' ./app/runtime
	$(FUZZ) '^FuzzInstrument$$' ./app/runtime/internal/meter
	$(FUZZ) '^FuzzDecodeRequest$$' ./contracts/abi
	$(FUZZ) '^FuzzDecodeFlat$$' ./contracts/sdk
	$(FUZZ) '^FuzzEncodeFlat$$' ./contracts/sdk

## bench: vchain vs CometBFT's kvstore on the same 4-validator setup, the switch, replay,
## scale with the state preloaded to 10^4-10^6 keys, and the Go benchmarks; writes
## BENCHMARKS.md and prints the ratios last (about 20 minutes; --only throughput or scale for a part)
bench: build
	$(GO) build -o $(BUILD)/cometbft github.com/cometbft/cometbft/cmd/cometbft
	$(GO) test -run '^$$' -bench . -benchtime 1s ./app/... | tee $(BUILD)/gobench.txt
	$(GO) run ./testnet/bench --bin $(BUILD)/vchaind --cometbft $(BUILD)/cometbft --contracts $(BUILD)/contracts \
		--dir $(CURDIR)/.localnet/bench --gobench $(BUILD)/gobench.txt --out BENCHMARKS.md

## proto: regenerate Go code from proto/ (needs protoc and protoc-gen-gocosmos)
proto:
	@command -v protoc >/dev/null || { echo "protoc missing: apt-get install protobuf-compiler"; exit 1; }
	@command -v protoc-gen-gocosmos >/dev/null || $(GO) install github.com/cosmos/gogoproto/protoc-gen-gocosmos@v1.7.2
	cd proto && for f in $$(find . -name '*.proto'); do \
		PATH="$$PATH:$$($(GO) env GOPATH)/bin" protoc -I . --gocosmos_out=paths=source_relative:. $$f || exit 1; \
	done

## check-tree: fails if a tracked file, or an untracked one .gitignore misses, is over 1 MB
## or a binary (ELF, Mach-O, wasm): build outputs belong in build/
check-tree:
	@./.ci/check-tree

## lint: formatting, vet, and no build output in the tree
lint: check-tree
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	GOOS=wasip1 GOARCH=wasm $(GO) vet ./contracts/...

clean:
	rm -rf $(BUILD)
