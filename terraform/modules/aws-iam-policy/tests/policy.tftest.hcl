variables {
  bucket_arn        = "arn:aws:s3:::airdeck-task-logs-a1b2c3"
  kms_key_arn       = "arn:aws:kms:eu-west-1:123456789012:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
  region            = "eu-west-1"
  oidc_provider_arn = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABCDEF0123456789"
  oidc_issuer       = "https://oidc.eks.eu-west-1.amazonaws.com/id/ABCDEF0123456789"
  namespace         = "airflow"
  service_accounts  = ["airdeck-api-server", "airdeck-triggerer", "airdeck-worker", "airdeck-migrate"]
}

run "trust_only_the_release_service_accounts_of_the_task_logs" {
  command = apply

  assert {
    condition = jsondecode(output.trust_policy_json).Statement[0].Condition.StringEquals["oidc.eks.eu-west-1.amazonaws.com/id/ABCDEF0123456789:sub"] == [
      "system:serviceaccount:airflow:airdeck-api-server", "system:serviceaccount:airflow:airdeck-triggerer",
      "system:serviceaccount:airflow:airdeck-worker", "system:serviceaccount:airflow:airdeck-migrate",
    ]
    error_message = "the role trusts system:serviceaccount:<namespace>:<account> of exactly the given accounts"
  }

  assert {
    condition     = jsondecode(output.trust_policy_json).Statement[0].Condition.StringEquals["oidc.eks.eu-west-1.amazonaws.com/id/ABCDEF0123456789:aud"] == "sts.amazonaws.com"
    error_message = "the token's audience is STS"
  }

  assert {
    condition     = jsondecode(output.trust_policy_json).Statement[0].Action == "sts:AssumeRoleWithWebIdentity" && length(jsondecode(output.trust_policy_json).Statement) == 1
    error_message = "one statement: web identity"
  }
}

run "task_logs_policy_is_scoped_to_the_prefix" {
  command = apply

  assert {
    condition     = jsondecode(output.task_logs_policy_json).Statement[1].Resource == ["arn:aws:s3:::airdeck-task-logs-a1b2c3/airflow/logs/*"]
    error_message = "objects below the prefix only"
  }

  assert {
    condition     = jsondecode(output.task_logs_policy_json).Statement[0].Condition.StringLike["s3:prefix"] == ["airflow/logs/*", "airflow/logs"]
    error_message = "listing limited to the prefix"
  }

  assert {
    condition = alltrue([
      for s in jsondecode(output.task_logs_policy_json).Statement :
      alltrue([for a in s.Action : !strcontains(a, "*")]) && alltrue([for r in s.Resource : r != "*"])
    ])
    error_message = "no wildcard action and no * resource"
  }

  assert {
    condition     = jsondecode(output.task_logs_policy_json).Statement[2].Condition.StringEquals["kms:ViaService"] == "s3.eu-west-1.amazonaws.com"
    error_message = "the key is usable only through S3"
  }
}

run "whole_bucket_has_no_list_condition" {
  command = apply

  variables {
    prefix = ""
  }

  assert {
    condition     = !can(jsondecode(output.task_logs_policy_json).Statement[0].Condition) && jsondecode(output.task_logs_policy_json).Statement[1].Resource == ["arn:aws:s3:::airdeck-task-logs-a1b2c3/*"]
    error_message = "an empty prefix means the whole bucket, without a null Condition"
  }
}

run "bucket_arn_of_another_service_is_refused" {
  command = plan
  variables {
    bucket_arn = "arn:aws:sqs:eu-west-1:123456789012:queue"
  }
  expect_failures = [var.bucket_arn]
}

run "wildcard_prefix_is_refused" {
  command = plan
  variables {
    prefix = "airflow/*"
  }
  expect_failures = [var.prefix]
}

run "bad_kms_key_arn_is_refused" {
  command = plan
  variables {
    kms_key_arn = "alias/airdeck"
  }
  expect_failures = [var.kms_key_arn]
}

run "bad_region_is_refused" {
  command = plan
  variables {
    region = "Europe"
  }
  expect_failures = [var.region]
}

run "bad_oidc_provider_arn_is_refused" {
  command = plan
  variables {
    oidc_provider_arn = "arn:aws:iam::123456789012:role/x"
  }
  expect_failures = [var.oidc_provider_arn]
}

run "plain_http_issuer_is_refused" {
  command = plan
  variables {
    oidc_issuer = "http://oidc.example.com"
  }
  expect_failures = [var.oidc_issuer]
}

run "bad_namespace_is_refused" {
  command = plan
  variables {
    namespace = "-airflow"
  }
  expect_failures = [var.namespace]
}

run "bad_service_account_is_refused" {
  command = plan
  variables {
    service_accounts = ["airdeck-worker", "Airdeck SA"]
  }
  expect_failures = [var.service_accounts]
}

run "no_service_account_is_refused" {
  command = plan
  variables {
    service_accounts = []
  }
  expect_failures = [var.service_accounts]
}
