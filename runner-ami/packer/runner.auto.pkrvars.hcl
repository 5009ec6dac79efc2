# Pinned GitHub Actions runner. Packer loads *.auto.pkrvars.hcl from this folder
# automatically, so `packer build .` always uses these values.
#
# To upgrade: take the version and the linux-x64 SHA-256 from the runner's
# release notes (github.com/actions/runner/releases, section "SHA-256 Checksums"),
# change BOTH lines here AND the defaults in sqlcourier-runner.pkr.hcl, run
# tests/lint/runner-ami.sh (it checks that they agree), build, deploy.
# There is deliberately no "latest" lookup anywhere.
runner_version = "2.334.0"
runner_sha256  = "048024cd2c848eb6f14d5646d56c13a4def2ae7ee3ad12122bee960c56f3d271"
