# Where the state lives. The state holds every secret this apply generates (database and cache
# passwords, the Fernet key, the admin password): keep it in an encrypted, access-controlled, locked
# remote backend, never on a laptop or in git. Create the bucket once (versioned, KMS-encrypted, public
# access blocked), uncomment the block, then run `terraform init -migrate-state`.
#
# terraform {
#   backend "s3" {
#     bucket       = "my-company-terraform-state"  # an existing, versioned bucket
#     key          = "airdeck/aws/terraform.tfstate"
#     region       = "eu-west-1"
#     encrypt      = true                          # server-side encryption of the state object
#     kms_key_id   = "alias/terraform-state"       # your KMS key (omit for S3's own keys)
#     use_lockfile = true                          # S3-native locking (Terraform >= 1.10)
#     # Terraform 1.7 to 1.9: lock with a DynamoDB table (partition key LockID, type String) instead:
#     # dynamodb_table = "terraform-locks"
#   }
# }
