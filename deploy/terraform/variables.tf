variable "project_id" {
  description = "Google Cloud project id that hosts everything."
  type        = string
}

variable "region" {
  description = "Region for the cluster (when regional), the bucket, and Artifact Registry."
  type        = string
  default     = "asia-southeast1"
}

variable "zone" {
  description = "Zone for a zonal cluster. Empty = regional cluster in var.region (control plane and nodes spread over its zones)."
  type        = string
  default     = "asia-southeast1-a"
}

variable "cluster_name" {
  description = "Name of the GKE Standard cluster."
  type        = string
  default     = "image-retrieval"
}

variable "release_channel" {
  description = "GKE release channel: RAPID, REGULAR or STABLE."
  type        = string
  default     = "REGULAR"

  validation {
    condition     = contains(["RAPID", "REGULAR", "STABLE"], var.release_channel)
    error_message = "release_channel must be RAPID, REGULAR or STABLE."
  }
}

variable "network" {
  description = "VPC network self link or name for the cluster."
  type        = string
  default     = "default"
}

variable "subnetwork" {
  description = "Subnetwork for the cluster nodes. Empty = the network's default subnetwork in the region."
  type        = string
  default     = ""
}

variable "deletion_protection" {
  description = "Protect the cluster from terraform destroy."
  type        = bool
  default     = true
}

variable "machine_type" {
  description = "Machine type of the node pool (the embedding model runs on CPU)."
  type        = string
  default     = "e2-standard-4"
}

variable "node_disk_size_gb" {
  description = "Boot disk size of each node, in GB."
  type        = number
  default     = 50
}

variable "spot_nodes" {
  description = "Use Spot VMs for the node pool (cheaper, can be preempted)."
  type        = bool
  default     = false
}

variable "node_count_initial" {
  description = "Initial number of nodes per zone in the node pool."
  type        = number
  default     = 1
}

variable "node_count_min" {
  description = "Minimum number of nodes per zone (cluster autoscaler)."
  type        = number
  default     = 1
}

variable "node_count_max" {
  description = "Maximum number of nodes per zone (cluster autoscaler)."
  type        = number
  default     = 4

  validation {
    condition     = var.node_count_max >= 1
    error_message = "node_count_max must be at least 1."
  }
}

variable "bucket_name" {
  description = "Name of the GCS bucket that stores the ingested images (globally unique)."
  type        = string
}

variable "bucket_versioning" {
  description = "Keep noncurrent object versions in the image bucket."
  type        = bool
  default     = false
}

variable "bucket_noncurrent_version_days" {
  description = "Days after which noncurrent object versions are deleted (when versioning is on)."
  type        = number
  default     = 30
}

variable "bucket_nearline_after_days" {
  description = "Days after which images move to the NEARLINE storage class. 0 = never."
  type        = number
  default     = 0
}

variable "bucket_force_destroy" {
  description = "Allow terraform destroy to delete a non-empty bucket."
  type        = bool
  default     = false
}

variable "artifact_repository_id" {
  description = "Artifact Registry docker repository id."
  type        = string
  default     = "image-retrieval"
}

variable "github_repository" {
  description = "GitHub repository allowed to deploy through Workload Identity Federation, as owner/name."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must look like owner/name."
  }
}

variable "github_deploy_ref" {
  description = "Optional git ref allowed to deploy (e.g. refs/heads/main). Empty = any ref of the repository; the GitHub 'production' environment then guards deployments."
  type        = string
  default     = ""
}

variable "wif_pool_id" {
  description = "Workload Identity Federation pool id for GitHub Actions."
  type        = string
  default     = "github"
}

variable "wif_provider_id" {
  description = "Workload Identity Federation OIDC provider id for GitHub Actions."
  type        = string
  default     = "github-actions"
}

variable "namespace" {
  description = "Kubernetes namespace the service runs in."
  type        = string
  default     = "image-retrieval"
}

variable "k8s_service_account_name" {
  description = "Kubernetes service account of the service (Helm value serviceAccount.name)."
  type        = string
  default     = "image-retrieval"
}

variable "runtime_service_account_id" {
  description = "Account id of the runtime Google service account used by the pods."
  type        = string
  default     = "image-retrieval-runtime"
}

variable "deployer_service_account_id" {
  description = "Account id of the Google service account GitHub Actions deploys with."
  type        = string
  default     = "image-retrieval-deployer"
}

variable "labels" {
  description = "Labels added to the resources that support them."
  type        = map(string)
  default = {
    app = "image-retrieval"
  }
}
