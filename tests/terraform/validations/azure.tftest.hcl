# Every validation of terraform/modules/azure/variables.tf refuses a bad value (run by
# tests/terraform/test_terraform.py against a copy of that file: the module itself needs providers).

variables {
  name           = "airdeck"
  location       = "westeurope"
  operator_cidrs = ["203.0.113.7/32"]
  host           = "airflow.example.com"
  cluster_admins = ["00000000-1111-2222-3333-444444444444"]
}

run "valid_inputs_plan" {
  command = plan
}

run "bad_name_is_refused" {
  command = plan
  variables {
    name = "airdeck-"
  }
  expect_failures = [var.name]
}

run "bad_location_is_refused" {
  command = plan
  variables {
    location = "West Europe"
  }
  expect_failures = [var.location]
}

run "bad_namespace_is_refused" {
  command = plan
  variables {
    namespace = "Airflow"
  }
  expect_failures = [var.namespace]
}

run "bad_vnet_cidr_is_refused" {
  command = plan
  variables {
    vnet_cidr = "10.40.0.0/24"
  }
  expect_failures = [var.vnet_cidr]
}

run "bad_kubernetes_version_is_refused" {
  command = plan
  variables {
    kubernetes_version = "1.28"
  }
  expect_failures = [var.kubernetes_version]
}

run "bad_system_node_vm_size_is_refused" {
  command = plan
  variables {
    system_node_vm_size = "D2ds_v5"
  }
  expect_failures = [var.system_node_vm_size]
}

run "bad_node_vm_size_is_refused" {
  command = plan
  variables {
    node_vm_size = "big"
  }
  expect_failures = [var.node_vm_size]
}

run "bad_db_sku_name_is_refused" {
  command = plan
  variables {
    db_sku_name = "B_Standard_B1ms"
  }
  expect_failures = [var.db_sku_name]
}

run "bad_postgres_version_is_refused" {
  command = plan
  variables {
    postgres_version = "12"
  }
  expect_failures = [var.postgres_version]
}

run "bad_postgres_storage_mb_is_refused" {
  command = plan
  variables {
    postgres_storage_mb = 50000
  }
  expect_failures = [var.postgres_storage_mb]
}

run "bad_postgres_backup_retention_days_is_refused" {
  command = plan
  variables {
    postgres_backup_retention_days = 40
  }
  expect_failures = [var.postgres_backup_retention_days]
}

run "bad_task_logs_prefix_is_refused" {
  command = plan
  variables {
    task_logs_prefix = "airflow/logs/"
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

run "bad_pod_cidr_is_refused" {
  command = plan
  variables {
    pod_cidr = "10.244.0.0/24"
  }
  expect_failures = [var.pod_cidr]
}

run "world_open_operator_cidrs_is_refused" {
  command = plan
  variables {
    operator_cidrs = ["0.0.0.0/0"]
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

run "bad_host_is_refused" {
  command = plan
  variables {
    host = "Airflow.Example.com"
  }
  expect_failures = [var.host]
}

run "zone_name_as_dns_zone_is_refused" {
  command = plan
  variables {
    dns_zone = "example.com"
  }
  expect_failures = [var.dns_zone]
}

run "empty_cluster_admins_is_refused" {
  command = plan
  variables {
    cluster_admins = []
  }
  expect_failures = [var.cluster_admins]
}

run "bad_cluster_admins_is_refused" {
  command = plan
  variables {
    cluster_admins = ["platform-admins"]
  }
  expect_failures = [var.cluster_admins]
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
    node_max_count = 1001
  }
  expect_failures = [var.node_max_count]
}

run "bad_cache_sku_name_is_refused" {
  command = plan
  variables {
    cache_sku_name = "Basic"
  }
  expect_failures = [var.cache_sku_name]
}

run "bad_cache_capacity_is_refused" {
  command = plan
  variables {
    cache_capacity = 7
  }
  expect_failures = [var.cache_capacity]
}

run "valid_optional_inputs_plan" {
  command = plan
  variables {
    dns_zone        = "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/dns/providers/Microsoft.Network/dnszones/example.com"
    create_registry = true
    cache_sku_name  = "Premium"
  }
}
