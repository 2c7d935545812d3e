# Every validation of terraform/modules/aws/variables.tf refuses a bad value (run by
# tests/terraform/test_terraform.py against a copy of that file: the module itself needs providers).

variables {
  name               = "airdeck"
  availability_zones = ["eu-west-1a", "eu-west-1b"]
}

run "valid_inputs_plan" {
  command = plan
}

run "valid_one_apply_inputs_plan" {
  command = plan
  variables {
    operator_cidrs     = ["203.0.113.0/24"]
    cluster_admins     = ["arn:aws:iam::123456789012:role/platform-admins", "arn:aws:iam::123456789012:user/alice"]
    node_instance_type = "m7g.xlarge"
    host               = "airflow.example.com"
    dns_zone           = "example.com"
    create_registry    = true
  }
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

run "operator_cidrs_open_to_the_world_are_refused" {
  command = plan
  variables {
    operator_cidrs = ["203.0.113.0/24", "0.0.0.0/0"]
  }
  expect_failures = [var.operator_cidrs]
}

run "malformed_operator_cidrs_are_refused" {
  command = plan
  variables {
    operator_cidrs = ["203.0.113.7"]
  }
  expect_failures = [var.operator_cidrs]
}

run "bad_cluster_admins_is_refused" {
  command = plan
  variables {
    cluster_admins = ["platform-admins"]
  }
  expect_failures = [var.cluster_admins]
}

run "bad_node_instance_type_is_refused" {
  command = plan
  variables {
    node_instance_type = "m6i"
  }
  expect_failures = [var.node_instance_type]
}

run "bad_node_min_count_is_refused" {
  command = plan
  variables {
    node_min_count = 0
  }
  expect_failures = [var.node_min_count]
}

run "bad_node_max_count_is_refused" {
  command = plan
  variables {
    node_max_count = 2.5
  }
  expect_failures = [var.node_max_count]
}

run "bad_host_is_refused" {
  command = plan
  variables {
    host = "https://airflow.example.com"
  }
  expect_failures = [var.host]
}

run "bad_dns_zone_is_refused" {
  command = plan
  variables {
    dns_zone = "Z0123456789ABC"
  }
  expect_failures = [var.dns_zone]
}

run "bad_load_balancer_controller_version_is_refused" {
  command = plan
  variables {
    load_balancer_controller_version = "v3.5.0"
  }
  expect_failures = [var.load_balancer_controller_version]
}

run "bad_cluster_autoscaler_version_is_refused" {
  command = plan
  variables {
    cluster_autoscaler_version = "latest"
  }
  expect_failures = [var.cluster_autoscaler_version]
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

run "ipv6_operator_cidrs_are_refused" {
  command = plan
  variables {
    operator_cidrs = ["2001:db8::/48"]
  }
  expect_failures = [var.operator_cidrs]
}
