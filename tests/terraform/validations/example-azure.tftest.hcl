# Every validation of terraform/examples/azure/variables.tf refuses a bad value (run by
# tests/terraform/test_terraform.py against a copy of that file: the example itself needs providers).

variables {
  operator_cidrs = ["203.0.113.7/32"]
  host           = "airflow.example.com"
  cluster_admins = ["00000000-1111-2222-3333-444444444444"]
}

run "valid_inputs_plan" {
  command = plan
}

run "valid_optional_inputs_plan" {
  command = plan
  variables {
    dns_zone        = "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/dns/providers/Microsoft.Network/dnsZones/example.com"
    acme_email      = "platform@example.com"
    create_registry = true
  }
}

run "bad_location_is_refused" {
  command = plan
  variables {
    location = "West Europe"
  }
  expect_failures = [var.location]
}

run "bad_name_is_refused" {
  command = plan
  variables {
    name = "a"
  }
  expect_failures = [var.name]
}

run "world_open_operator_cidrs_is_refused" {
  command = plan
  variables {
    operator_cidrs = ["203.0.113.7/32", "0.0.0.0/0"]
  }
  expect_failures = [var.operator_cidrs]
}

run "bad_host_is_refused" {
  command = plan
  variables {
    host = "airflow.example.com/"
  }
  expect_failures = [var.host]
}

run "bad_dns_zone_is_refused" {
  command = plan
  variables {
    dns_zone = "example.com"
  }
  expect_failures = [var.dns_zone]
}

run "bad_acme_email_is_refused" {
  command = plan
  variables {
    acme_email = "platform"
  }
  expect_failures = [var.acme_email]
}

run "empty_cluster_admins_is_refused" {
  command = plan
  variables {
    cluster_admins = []
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
    node_max_count = 0.5
  }
  expect_failures = [var.node_max_count]
}

run "bad_node_vm_size_is_refused" {
  command = plan
  variables {
    node_vm_size = "D4ds_v5"
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
    cache_capacity = -1
  }
  expect_failures = [var.cache_capacity]
}
