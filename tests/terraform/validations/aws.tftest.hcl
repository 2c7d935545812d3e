# Every validation of terraform/modules/aws/variables.tf refuses a bad value (run by
# tests/terraform/test_terraform.py against a copy of that file: the module itself needs providers).

variables {
  name               = "airdeck"
  availability_zones = ["eu-west-1a", "eu-west-1b"]
}

run "valid_inputs_plan" {
  command = plan
}

run "bad_name_is_refused" {
  command = plan
  variables {
    name = "Air_Deck"
  }
  expect_failures = [var.name]
}

run "bad_namespace_is_refused" {
  command = plan
  variables {
    namespace = "Airflow"
  }
  expect_failures = [var.namespace]
}

run "bad_vpc_cidr_is_refused" {
  command = plan
  variables {
    vpc_cidr = "10.0.0.0/24"
  }
  expect_failures = [var.vpc_cidr]
}

run "bad_availability_zones_is_refused" {
  command = plan
  variables {
    availability_zones = ["eu-west-1a"]
  }
  expect_failures = [var.availability_zones]
}

run "bad_kubernetes_version_is_refused" {
  command = plan
  variables {
    kubernetes_version = "1.27"
  }
  expect_failures = [var.kubernetes_version]
}

run "bad_endpoint_public_access_cidrs_is_refused" {
  command = plan
  variables {
    endpoint_public_access_cidrs = ["0.0.0.0/0"]
  }
  expect_failures = [var.endpoint_public_access_cidrs]
}

run "bad_node_instance_types_is_refused" {
  command = plan
  variables {
    node_instance_types = []
  }
  expect_failures = [var.node_instance_types]
}

run "bad_node_count_is_refused" {
  command = plan
  variables {
    node_count = { desired = 1, min = 2, max = 3 }
  }
  expect_failures = [var.node_count]
}

run "bad_db_instance_class_is_refused" {
  command = plan
  variables {
    db_instance_class = "m6g.large"
  }
  expect_failures = [var.db_instance_class]
}

run "bad_db_engine_version_is_refused" {
  command = plan
  variables {
    db_engine_version = "13"
  }
  expect_failures = [var.db_engine_version]
}

run "bad_db_allocated_storage_is_refused" {
  command = plan
  variables {
    db_allocated_storage = 10
  }
  expect_failures = [var.db_allocated_storage]
}

run "bad_db_backup_retention_days_is_refused" {
  command = plan
  variables {
    db_backup_retention_days = 1
  }
  expect_failures = [var.db_backup_retention_days]
}

run "bad_cache_node_type_is_refused" {
  command = plan
  variables {
    cache_node_type = "m6g.large"
  }
  expect_failures = [var.cache_node_type]
}

run "bad_task_logs_prefix_is_refused" {
  command = plan
  variables {
    task_logs_prefix = "/airflow/"
  }
  expect_failures = [var.task_logs_prefix]
}

run "bad_task_logs_retention_days_is_refused" {
  command = plan
  variables {
    task_logs_retention_days = 0
  }
  expect_failures = [var.task_logs_retention_days]
}

run "bad_log_retention_days_is_refused" {
  command = plan
  variables {
    log_retention_days = 10
  }
  expect_failures = [var.log_retention_days]
}

run "bad_secret_recovery_window_days_is_refused" {
  command = plan
  variables {
    secret_recovery_window_days = 0
  }
  expect_failures = [var.secret_recovery_window_days]
}
