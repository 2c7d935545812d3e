# Every validation of terraform/modules/gcp/variables.tf refuses a bad value (run by
# tests/terraform/test_terraform.py against a copy of that file: the module itself needs providers).

variables {
  project_id     = "my-project"
  region         = "europe-west1"
  name           = "airdeck"
  operator_cidrs = ["203.0.113.7/32", "198.51.100.0/24"]
  host           = "airflow.example.com"
}

run "valid_inputs_plan" {
  command = plan
}

run "bad_project_id_is_refused" {
  command = plan
  variables {
    project_id = "My_Project"
  }
  expect_failures = [var.project_id]
}

run "bad_region_is_refused" {
  command = plan
  variables {
    region = "Europe West"
  }
  expect_failures = [var.region]
}

run "bad_name_is_refused" {
  command = plan
  variables {
    name = "a"
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

run "bad_subnet_cidr_is_refused" {
  command = plan
  variables {
    subnet_cidr = "10.10.0.0"
  }
  expect_failures = [var.subnet_cidr]
}

run "bad_pods_cidr_is_refused" {
  command = plan
  variables {
    pods_cidr = "pods"
  }
  expect_failures = [var.pods_cidr]
}

run "bad_services_cidr_is_refused" {
  command = plan
  variables {
    services_cidr = "10.30.0.0/33"
  }
  expect_failures = [var.services_cidr]
}

run "bad_master_ipv4_cidr_block_is_refused" {
  command = plan
  variables {
    master_ipv4_cidr_block = "172.16.0.0/24"
  }
  expect_failures = [var.master_ipv4_cidr_block]
}

run "bad_node_machine_type_is_refused" {
  command = plan
  variables {
    node_machine_type = "E2 Standard"
  }
  expect_failures = [var.node_machine_type]
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

run "bad_db_tier_is_refused" {
  command = plan
  variables {
    db_tier = "db-n1-standard-2x"
  }
  expect_failures = [var.db_tier]
}

run "bad_db_version_is_refused" {
  command = plan
  variables {
    db_version = "MYSQL_8_0"
  }
  expect_failures = [var.db_version]
}

run "bad_db_backup_retention_count_is_refused" {
  command = plan
  variables {
    db_backup_retention_count = 1
  }
  expect_failures = [var.db_backup_retention_count]
}

run "bad_cache_memory_size_gb_is_refused" {
  command = plan
  variables {
    cache_memory_size_gb = 0
  }
  expect_failures = [var.cache_memory_size_gb]
}

run "bad_task_logs_prefix_is_refused" {
  command = plan
  variables {
    task_logs_prefix = "airflow//logs"
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

run "world_open_operator_cidrs_is_refused" {
  command = plan
  variables {
    operator_cidrs = ["203.0.113.7/32", "0.0.0.0/0"]
  }
  expect_failures = [var.operator_cidrs]
}

run "empty_operator_cidrs_is_refused" {
  command = plan
  variables {
    operator_cidrs = []
  }
  expect_failures = [var.operator_cidrs]
}

run "ipv6_operator_cidrs_is_refused" {
  command = plan
  variables {
    operator_cidrs = ["2001:db8::/32"]
  }
  expect_failures = [var.operator_cidrs]
}

run "bad_host_is_refused" {
  command = plan
  variables {
    host = "https://airflow.example.com"
  }
  expect_failures = [var.host]
}

run "dns_name_as_dns_zone_is_refused" {
  command = plan
  variables {
    dns_zone = "example.com."
  }
  expect_failures = [var.dns_zone]
}

run "bad_cluster_admins_is_refused" {
  command = plan
  variables {
    cluster_admins = ["ana@example.com"]
  }
  expect_failures = [var.cluster_admins]
}

run "valid_optional_inputs_plan" {
  command = plan
  variables {
    dns_zone        = "example-com"
    cluster_admins  = ["group:platform@example.com", "user:ana@example.com"]
    create_registry = true
    node_min_count  = 2
    node_max_count  = 9
  }
}
