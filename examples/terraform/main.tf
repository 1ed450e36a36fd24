# Terraform recipe: the alicloud provider's ECI image cache against
# `eci-imagecache serve` (a plain-HTTP endpoint override).
#
#   eci-imagecache serve --access-key AKIDEXAMPLE:SECRETEXAMPLE --instant
#   terraform init && terraform apply -auto-approve && terraform destroy -auto-approve
#
# The provider polls DescribeImageCaches every 10 s until the cache is Ready
# (its create timeout is 60 min): run the emulator with --instant or on the
# system clock (short --preparing/--creating). A manual clock (--now) never
# advances on its own, so apply would wait until it times out.
#
# Not run by tests/recipes/run.sh: the provider comes from
# registry.terraform.io, which the project's machines cannot reach
# (see docs/recipes.md).

terraform {
  required_version = ">= 1.0"
  required_providers {
    alicloud = {
      source = "aliyun/alicloud"
      # alicloud_eci_image_cache exists since 1.89.0; `protocol` since 1.72.0.
      version = ">= 1.89.0"
    }
  }
}

variable "eci_endpoint" {
  description = "host:port of eci-imagecache serve (no scheme: the provider would turn http:// into https://)"
  type        = string
  default     = "127.0.0.1:8080"
}

variable "access_key" {
  type    = string
  default = "AKIDEXAMPLE"
}

variable "secret_key" {
  type      = string
  default   = "SECRETEXAMPLE"
  sensitive = true
}

provider "alicloud" {
  access_key = var.access_key
  secret_key = var.secret_key
  region     = "cn-hangzhou"

  # Plain HTTP for every API call the provider makes (default HTTPS).
  protocol = "HTTP"
  # The emulator is not a public region endpoint.
  skip_region_validation = true

  # The endpoint override: ECI calls go to the emulator. Only ECI: any
  # other product this configuration touched would still go to the cloud.
  endpoints {
    eci = var.eci_endpoint
  }
}

resource "alicloud_eci_image_cache" "quickstart" {
  image_cache_name = "quickstart-terraform"
  images           = ["nginx:1.25", "registry-vpc.cn-hangzhou.aliyuncs.com/eci_open/alpine:3.5"]
  image_cache_size = 20
  retention_days   = 7
  # Required by the provider's schema; the emulator records but does not
  # check them (no VPC exists behind it).
  security_group_id = "sg-emulator"
  vswitch_id        = "vsw-emulator"
}

# Read back through the data source (one DescribeImageCaches call).
data "alicloud_eci_image_caches" "quickstart" {
  ids = [alicloud_eci_image_cache.quickstart.id]
}

output "image_cache_id" {
  value = alicloud_eci_image_cache.quickstart.id
}

output "container_group_id" {
  value = alicloud_eci_image_cache.quickstart.container_group_id
}

output "status" {
  # "Ready" once apply has returned.
  value = alicloud_eci_image_cache.quickstart.status
}

output "images" {
  value = data.alicloud_eci_image_caches.quickstart.caches[0].images
}
