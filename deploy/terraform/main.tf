locals {
  # Zonal cluster when var.zone is set, regional otherwise.
  location = var.zone != "" ? var.zone : var.region

  workload_pool = "${var.project_id}.svc.id.goog"

  artifact_registry_url = "${var.region}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.docker.repository_id}"

  # Only tokens minted for this repository (and, when set, this ref) can use the pool.
  github_attribute_condition = join(" && ", compact([
    "assertion.repository == '${var.github_repository}'",
    var.github_deploy_ref != "" ? "assertion.ref == '${var.github_deploy_ref}'" : "",
  ]))
}

resource "google_project_service" "services" {
  for_each = toset([
    "artifactregistry.googleapis.com",
    "cloudresourcemanager.googleapis.com",
    "container.googleapis.com",
    "iam.googleapis.com",
    "iamcredentials.googleapis.com",
    "sts.googleapis.com",
    "storage.googleapis.com",
  ])

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}
