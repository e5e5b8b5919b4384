# Two commands matter: `make test` and `make demo`. Both first install what they need on a fresh machine.
SHELL := /bin/bash
APT_PACKAGES := iproute2 iptables ipset nftables conntrack containernetworking-plugins gobgpd bird2 \
	qemu-system-x86 busybox-static umoci socat golang-github-osrg-gobgp-dev openssl ipvsadm kmod xz-utils \
	procps python3 make g++ mmdebstrap
TEST_ENV := KUBE_ROUTER_LOG_LEVEL=$${KUBE_ROUTER_LOG_LEVEL:-silent}
NODE_TEST := node --import tsx --test --test-force-exit --test-concurrency=1

.PHONY: deps build test test-unit test-root test-heavy test-conformance test-proxy test-image test-deploy image bench demo lab-down clean

deps: .stamp/apt .stamp/npm

.stamp/apt: Makefile
	@mkdir -p .stamp
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:" $$missing; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	@command -v kubectl >/dev/null || echo "warning: kubectl not found; kubectl-driven lab tests will be skipped"
	@touch $@

.stamp/npm: package.json package-lock.json
	@mkdir -p .stamp
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

build: deps
	npm run --silent build

# The whole suite: pure unit tests, then root tests against real kernel state in namespaces (including the
# Debian-kernel VM smoke test under test/root/vm, and the container image run from its root filesystem).
test: build image
	$(TEST_ENV) $(NODE_TEST) $$(find test/unit test/root -name '*.test.ts' | sort)

test-unit: build
	$(TEST_ENV) $(NODE_TEST) $$(find test/unit -name '*.test.ts' | sort)

test-root: build image
	$(TEST_ENV) $(NODE_TEST) $$(find test/root -name '*.test.ts' | sort)

# Heavier suites kept out of `make test`: the full-controller VM tests and the NetworkPolicy conformance suite.
test-heavy: build
	$(TEST_ENV) $(NODE_TEST) $$(find test/heavy -name '*.test.ts' | sort)

# The service proxy in the Debian-kernel VM: the controller with real packets (also in `make test`), the same over
# IPv6 and dual-stack, NetworkPolicy on Service traffic with both netpol backends (a few minutes each) and the whole
# lab brought up inside the VM with kube-router's proxy (`up --vm`, a few minutes under emulation), and the demo's
# Service part as `make demo` runs it in the VM (demo-services-vm, a few minutes).
test-proxy: build
	$(TEST_ENV) $(NODE_TEST) test/root/vm/proxy-vm.test.ts test/heavy/proxy-ipv6-vm.test.ts test/heavy/proxy-netpol-vm.test.ts test/heavy/lab-up-vm.test.ts test/heavy/demo-services-vm.test.ts

# Every deploy/ variant installed from the image into the lab (kubectl apply, rollout status, routing, policy, BGP
# to an external router, the all-features variants on a kernel without IPVS) and a rolling upgrade under continuous
# probes: test/heavy/deploy-variants.test.ts, about 5 minutes (also part of test-heavy).
test-deploy: image
	$(TEST_ENV) $(NODE_TEST) test/heavy/deploy-variants.test.ts

test-conformance: build
	$(TEST_ENV) $(NODE_TEST) $$(find test/conformance -name '*.test.ts' | sort)

# The container image as an OCI archive, build/image/kube-router.oci.tar, built without a container daemon
# (deploy/image/README.md). Rebuilt only when what goes into it changed: about a minute the first time (the Debian
# root filesystem), seconds after a TypeScript change, nothing when nothing changed.
image: build
	deploy/image/build.sh

# The image unpacked with umoci and run from its root filesystem in throwaway namespaces (~20 s; in `make test` too).
test-image: image
	$(TEST_ENV) $(NODE_TEST) test/root/image/image.test.ts

bench: build
	npm run --silent bench:routes
	npm run --silent bench:netpol
	npm run --silent bench:proxy

demo: build
	node bin/kube-router-lab.js demo

lab-down:
	node bin/kube-router-lab.js down

clean:
	rm -rf dist build .stamp
