# carecycle: `make help` lists the targets.
.DEFAULT_GOAL := help
.PHONY: help install demo test up bench image

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

install: ## install everything into .venv/ (uv, from uv.lock) plus the Debian packages it needs
	@scripts/bootstrap

demo: install ## install, then run the main job: the synthetic practice through the revenue cycle
	.venv/bin/carecycle demo

test: install ## install (and podman, debootstrap for the image test), then every gate and the whole test suite
	scripts/install-system-deps --image
	scripts/test

up: install ## start the embedded stack (Temporal dev server, workers, sandbox, console) until Ctrl-C
	.venv/bin/carecycle up

bench: install ## run the benchmarks (prints ratios against baselines measured in the same run)
	for b in bench/*.py; do .venv/bin/python $$b || exit 1; done

image: install ## build the container images (podman; a Debian rootfs made with debootstrap): localhost/carecycle:dev
	scripts/install-system-deps --image
	scripts/build-image dev
