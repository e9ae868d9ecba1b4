# State lives in a GCS bucket created once by hand (see README.md). Its name and prefix are
# given at init time so that nothing environment-specific is committed:
#   terraform init -backend-config="bucket=my-tf-state" -backend-config="prefix=image-retrieval/prod"
terraform {
  backend "gcs" {}
}
