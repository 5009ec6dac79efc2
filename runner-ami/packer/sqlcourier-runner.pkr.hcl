# sqlcourier runner image: Debian 12 (bookworm) + pinned GitHub Actions runner
# + sqlcourier + operator DB clients. Build: see runner-ami/README.md.
#
# Why Debian 12 and not Amazon Linux 2023:
#   * sqlcourier is built on Debian 12 (dev machines and CI). Its glibc is 2.36;
#     AL2023 ships glibc 2.34, so a binary built on bookworm may refuse to start there.
#   * Debian's own archive has everything the image needs, signed by Debian:
#     mariadb-client, postgresql-client, AWS CLI v2 (package awscli 2.9.x),
#     the runner's .NET dependencies (libicu72, libkrb5-3, libssl3, liblttng-ust1).
#     Nothing is piped from the internet into a shell; the only download is the
#     runner tarball, and it is checked against the pinned SHA-256.

packer {
  required_version = ">= 1.10.0"
  required_plugins {
    amazon = {
      # Exact pin: a plugin upgrade is a reviewed change, never a surprise.
      version = "= 1.3.9"
      source  = "github.com/hashicorp/amazon"
    }
  }
}

variable "region" {
  type        = string
  default     = "ap-northeast-1"
  description = "Region the AMI is built in (and used by the stack)."
}

variable "build_instance_type" {
  type    = string
  default = "t3.small"
}

variable "subnet_id" {
  type        = string
  default     = ""
  description = "Optional subnet for the temporary build instance (needs outbound internet). Empty: default VPC."
}

# The two runner pins. The values in force live in runner.auto.pkrvars.hcl;
# the defaults repeat them so that a build can never fall back to anything
# else, and tests/lint/test_runner_ami.py fails if the two ever differ.
variable "runner_version" {
  type    = string
  default = "2.334.0"
  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", var.runner_version))
    error_message = "The runner_version must be an exact version such as 2.334.0 (no \"latest\")."
  }
}

variable "runner_sha256" {
  type    = string
  default = "048024cd2c848eb6f14d5646d56c13a4def2ae7ee3ad12122bee960c56f3d271"
  validation {
    condition     = can(regex("^[0-9a-f]{64}$", var.runner_sha256))
    error_message = "The runner_sha256 must be the 64-hex-digit SHA-256 of the linux-x64 tarball."
  }
}

variable "sqlcourier_binary" {
  type        = string
  default     = "../../target/release/sqlcourier"
  description = "Path (relative to this folder) of the release build of sqlcourier for x86_64-unknown-linux-gnu, i.e. the CI artefact."
}

variable "sqlcourier_sha256" {
  type        = string
  description = "SHA-256 of sqlcourier_binary as published with the CI artefact (SHA256SUMS). No default on purpose."
  validation {
    condition     = can(regex("^[0-9a-f]{64}$", var.sqlcourier_sha256))
    error_message = "The sqlcourier_sha256 must be a 64-hex-digit SHA-256."
  }
}

locals {
  build_stamp = formatdate("YYYYMMDD-hhmm", timestamp())
  runner_url  = "https://github.com/actions/runner/releases/download/v${var.runner_version}/actions-runner-linux-x64-${var.runner_version}.tar.gz"
  # Must equal Environment=PATH= in runner-ami/boot/sqlcourier-runner.service
  # (the verification step below reads it from the installed unit).
  runner_path = "/usr/local/bin:/usr/bin:/bin"
}

source "amazon-ebs" "runner" {
  region        = var.region
  instance_type = var.build_instance_type
  subnet_id     = var.subnet_id == "" ? null : var.subnet_id
  ssh_username  = "admin"

  ami_name        = "sqlcourier-runner-${var.runner_version}-${local.build_stamp}"
  ami_description = "sqlcourier ephemeral GitHub Actions runner ${var.runner_version} on Debian 12"

  source_ami_filter {
    filters = {
      name                = "debian-12-amd64-*"
      architecture        = "x86_64"
      virtualization-type = "hvm"
      root-device-type    = "ebs"
    }
    # Debian's official AWS account (the Debian cloud team publishes bookworm AMIs here).
    owners      = ["136693071363"]
    most_recent = true
  }

  # The build instance itself only speaks IMDSv2 ...
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }
  # ... and so does every instance launched from the resulting AMI.
  imds_support = "v2.0"

  launch_block_device_mappings {
    device_name           = "/dev/xvda"
    volume_size           = 20
    volume_type           = "gp3"
    encrypted             = true
    delete_on_termination = true
  }

  tags = {
    Name             = "sqlcourier-runner"
    "runner-version" = var.runner_version
    "base-image"     = "{{ .SourceAMIName }}"
  }
}

build {
  name    = "sqlcourier-runner"
  sources = ["source.amazon-ebs.runner"]

  # 1. OS packages, runner user, folders.
  provisioner "shell" {
    execute_command = "sudo -E bash '{{ .Path }}'"
    script          = "${path.root}/scripts/install-base.sh"
  }

  # 2. Boot files and the sqlcourier binary, uploaded to a staging folder.
  provisioner "file" {
    source      = "${path.root}/../boot/"
    destination = "/tmp/sqlcourier-boot"
  }

  provisioner "file" {
    source      = "${path.root}/${var.sqlcourier_binary}"
    destination = "/tmp/sqlcourier-boot/sqlcourier"
  }

  # 3. Runner tarball (checksum verified), sqlcourier (checksum verified), boot files.
  provisioner "shell" {
    execute_command = "sudo -E bash '{{ .Path }}'"
    environment_vars = [
      "RUNNER_VERSION=${var.runner_version}",
      "RUNNER_URL=${local.runner_url}",
      "RUNNER_SHA256=${var.runner_sha256}",
      "SQLCOURIER_SHA256=${var.sqlcourier_sha256}",
    ]
    script = "${path.root}/scripts/install-runner.sh"
  }

  # 4. Verify the image the way a job will see it: as the runner user, with the
  #    unit's PATH and nothing else in the environment.
  provisioner "shell" {
    execute_command = "sudo -E bash '{{ .Path }}'"
    environment_vars = [
      "RUNNER_VERSION=${var.runner_version}",
      "EXPECTED_PATH=${local.runner_path}",
    ]
    script = "${path.root}/scripts/verify-image.sh"
  }

  post-processor "manifest" {
    output     = "manifest.json"
    strip_path = true
    custom_data = {
      runner_version = var.runner_version
      runner_sha256  = var.runner_sha256
    }
  }
}
