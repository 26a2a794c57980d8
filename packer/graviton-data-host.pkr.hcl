# The GravitonDataHost AMI: Amazon Linux 2023 arm64 with PostgreSQL 16, Redis, restic, the
# CloudWatch agent and the AWS CLI, configured for a 4 GiB Graviton host of one service
# (variable service: the host's serviceName). The units are installed but not enabled: the
# instance's boot starts them once /data is mounted. The new AMI id goes to the SSM parameter
# that GravitonDataHost reads (amiParameterName; publish-ami.sh writes it).
#
#   cd packer && packer init . (modern Packer) && packer build .
#   # another service, host scripts from the installed package:
#   packer build -var service=kehilla -var ami_parameter=/kehilla/prod/ami-id \
#     -var host_dir=$PWD/../node_modules/@shtetl/cdk-constructs/lib/constructs/graviton-data-host/host .
#
# Valid for Packer 1.6.6 (Debian) and current Packer with the amazon plugin. 1.6.6 rejects
# the packer { required_plugins } block and the metadata_options / imds_support settings,
# so the build instance's IMDSv2 requirement is not set here (it runs for minutes, with no
# inbound access but SSH from the builder).

variable "region" {
  type        = string
  default     = "eu-west-1"
  description = "Region to build in; the AMI stays in this region."
}

variable "service" {
  type        = string
  default     = "zmanim"
  description = "The GravitonDataHost serviceName the AMI is for (/opt/<service>, <service>-*.service)."
}

variable "host_dir" {
  type        = string
  default     = ""
  description = "The GravitonDataHost host scripts (empty: this repository's src/constructs/graviton-data-host/host)."
}

variable "instance_type" {
  type        = string
  default     = "m7g.medium"
  description = "Graviton (arm64) build instance type."
}

variable "ami_parameter" {
  type        = string
  default     = "/zmanim/prod/ami-id"
  description = "SSM parameter that receives the new AMI id (GravitonDataHost reads it)."
}

variable "subnet_id" {
  type        = string
  default     = ""
  description = "Subnet for the build instance (empty: the default VPC)."
}

variable "iam_instance_profile" {
  type        = string
  default     = ""
  description = "Instance profile of the build instance; needed only with api_release_url."
}

variable "api_release_url" {
  type        = string
  default     = ""
  description = "s3:// URL of an API release to bake in as the fallback copy (empty: none)."
}

variable "restic_version" {
  type        = string
  default     = "0.17.3"
  description = "restic release installed from GitHub (AL2023 has no restic package)."
}

variable "restic_sha256" {
  type        = string
  default     = ""
  description = "SHA-256 of restic_<version>_linux_arm64.bz2 (empty: the release's SHA256SUMS)."
}

variable "ssh_source_cidrs" {
  type        = list(string)
  default     = ["0.0.0.0/0"]
  description = "Who may reach the build instance's SSH port while it runs; the build workflow passes its runner's address (/32)."
}

variable "git_revision" {
  type        = string
  default     = "unknown"
  description = "Commit of this repository the AMI is built from (a tag on the AMI)."
}

locals {
  timestamp  = formatdate("YYYYMMDD-hhmmss", timestamp())
  env_prefix = upper(replace(var.service, "-", "_"))
  host_dir   = var.host_dir != "" ? var.host_dir : "${path.root}/../src/constructs/graviton-data-host/host"
}

source "amazon-ebs" "graviton_data_host" {
  region               = var.region
  instance_type        = var.instance_type
  subnet_id            = var.subnet_id
  iam_instance_profile = var.iam_instance_profile
  ami_name             = "graviton-data-host-al2023-arm64-${local.timestamp}"
  ami_description      = "GravitonDataHost: AL2023 arm64, PostgreSQL 16, Redis, restic, CloudWatch agent"
  ssh_username         = "ec2-user"

  source_ami_filter {
    filters = {
      name                = "al2023-ami-2023.*-kernel-*-arm64"
      architecture        = "arm64"
      virtualization-type = "hvm"
      root-device-type    = "ebs"
    }
    owners      = ["amazon"]
    most_recent = true
  }

  launch_block_device_mappings {
    device_name           = "/dev/xvda"
    volume_size           = 16
    volume_type           = "gp3"
    iops                  = 3000
    throughput            = 125
    encrypted             = true
    delete_on_termination = true
  }

  temporary_security_group_source_cidrs = var.ssh_source_cidrs

  # zmanim:ami-build marks everything the build creates: the AMI build role (GitHub OIDC
  # stack) may stop, terminate or image only instances that carry it.
  tags = {
    Name               = "graviton-data-host-al2023-arm64-${local.timestamp}"
    project            = "zmanim"
    component          = "graviton-data-host"
    source-ami         = "{{ .SourceAMI }}"
    git-revision       = var.git_revision
    "zmanim:ami-build" = "true"
  }
  snapshot_tags = {
    component          = "graviton-data-host"
    "zmanim:ami-build" = "true"
  }
  run_tags = {
    Name               = "packer graviton-data-host build"
    "zmanim:ami-build" = "true"
  }
  run_volume_tags = {
    "zmanim:ami-build" = "true"
  }
}

build {
  sources = ["source.amazon-ebs.graviton_data_host"]

  provisioner "file" {
    source      = "${local.host_dir}/"
    destination = "/tmp/graviton-data-host"
  }

  provisioner "shell" {
    environment_vars = [
      "SERVICE=${var.service}",
      "SHTETL_SERVICE=${var.service}",
      "${local.env_prefix}_RESTIC_VERSION=${var.restic_version}",
      "${local.env_prefix}_RESTIC_SHA256=${var.restic_sha256}",
      "API_RELEASE_URL=${var.api_release_url}",
      "AWS_REGION=${var.region}",
    ]
    execute_command = "chmod +x {{ .Path }}; sudo -E bash '{{ .Path }}'"
    script          = "${path.root}/provision-ami.sh"
  }

  post-processor "manifest" {
    output     = "${path.root}/manifest.json"
    strip_path = true
  }

  post-processor "shell-local" {
    environment_vars = [
      "AMI_PARAMETER=${var.ami_parameter}",
      "AWS_REGION=${var.region}",
      "MANIFEST=${path.root}/manifest.json",
    ]
    script = "${path.root}/publish-ami.sh"
  }
}
