# Every validation of terraform/modules/azure/variables.tf refuses a bad value (run by
# tests/terraform/test_terraform.py against a copy of that file: the module itself needs providers).

variables {
  name     = "airdeck"
  location = "westeurope"
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

run "bad_admin_group_object_ids_is_refused" {
  command = plan
  variables {
    admin_group_object_ids = ["admins"]
  }
  expect_failures = [var.admin_group_object_ids]
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

run "bad_node_count_is_refused" {
  command = plan
  variables {
    node_count = { min = 0, max = 3 }
  }
  expect_failures = [var.node_count]
}

run "bad_postgres_sku_is_refused" {
  command = plan
  variables {
    postgres_sku = "B_Standard_B1ms"
  }
  expect_failures = [var.postgres_sku]
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

run "bad_redis_sku_is_refused" {
  command = plan
  variables {
    redis_sku = { name = "Basic", family = "C", capacity = 0 }
  }
  expect_failures = [var.redis_sku]
}

run "bad_key_vault_allowed_ip_ranges_is_refused" {
  command = plan
  variables {
    key_vault_allowed_ip_ranges = ["0.0.0.0/0"]
  }
  expect_failures = [var.key_vault_allowed_ip_ranges]
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
