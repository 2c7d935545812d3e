# Every validation of terraform/examples/gcp/variables.tf refuses a bad value (run by
# tests/terraform/test_terraform.py against a copy of that file: the example itself needs providers).

variables {
  project_id     = "my-project"
  operator_cidrs = ["203.0.113.7/32"]
  host           = "airflow.example.com"
}

run "valid_inputs_plan" {
  command = plan
}

run "valid_optional_inputs_plan" {
  command = plan
  variables {
    dns_zone        = "example-com"
    cluster_admins  = ["group:platform@example.com"]
    create_registry = true
  }
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
    region = "europe west1"
  }
  expect_failures = [var.region]
}

run "bad_name_is_refused" {
  command = plan
  variables {
    name = "Airdeck"
  }
  expect_failures = [var.name]
}

run "world_open_operator_cidrs_is_refused" {
  command = plan
  variables {
    operator_cidrs = ["0.0.0.0/0"]
  }
  expect_failures = [var.operator_cidrs]
}

run "bad_host_is_refused" {
  command = plan
  variables {
    host = "airflow"
  }
  expect_failures = [var.host]
}

run "bad_dns_zone_is_refused" {
  command = plan
  variables {
    dns_zone = "example.com."
  }
  expect_failures = [var.dns_zone]
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
    node_max_count = 0
  }
  expect_failures = [var.node_max_count]
}

run "bad_node_machine_type_is_refused" {
  command = plan
  variables {
    node_machine_type = "E2 Standard"
  }
  expect_failures = [var.node_machine_type]
}

run "bad_db_tier_is_refused" {
  command = plan
  variables {
    db_tier = "db-n1-standard-2x"
  }
  expect_failures = [var.db_tier]
}

run "bad_cache_memory_size_gb_is_refused" {
  command = plan
  variables {
    cache_memory_size_gb = 0
  }
  expect_failures = [var.cache_memory_size_gb]
}

run "bad_cluster_admins_is_refused" {
  command = plan
  variables {
    cluster_admins = ["platform@example.com"]
  }
  expect_failures = [var.cluster_admins]
}
