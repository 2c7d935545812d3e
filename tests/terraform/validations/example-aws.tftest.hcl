# Every validation of terraform/examples/aws/variables.tf refuses a bad value (run by
# tests/terraform/test_terraform.py against a copy of that file: the example itself needs providers).

variables {
  operator_cidrs = ["203.0.113.7/32"]
  host           = "airflow.example.com"
}

run "valid_inputs_plan" {
  command = plan
}

run "valid_full_inputs_plan" {
  command = plan
  variables {
    region             = "us-gov-west-1"
    availability_zones = ["us-gov-west-1a", "us-gov-west-1b"]
    operator_cidrs     = ["203.0.113.0/24", "198.51.100.7/32"]
    dns_zone           = "example.com."
    node_instance_type = "m7g.2xlarge"
    node_min_count     = 3
    node_max_count     = 12
    db_instance_class  = "db.t4g.medium"
    cache_node_type    = "cache.t4g.small"
    cluster_admins     = ["arn:aws:iam::123456789012:role/platform-admins"]
    create_registry    = true
  }
}

run "missing_operator_cidrs_are_refused" {
  command = plan
  variables {
    operator_cidrs = []
  }
  expect_failures = [var.operator_cidrs]
}

run "world_open_operator_cidrs_are_refused" {
  command = plan
  variables {
    operator_cidrs = ["0.0.0.0/0"]
  }
  expect_failures = [var.operator_cidrs]
}

run "bad_region_is_refused" {
  command = plan
  variables {
    region = "Ireland"
  }
  expect_failures = [var.region]
}

run "bad_availability_zones_is_refused" {
  command = plan
  variables {
    availability_zones = ["eu-west-1a"]
  }
  expect_failures = [var.availability_zones]
}

run "bad_name_is_refused" {
  command = plan
  variables {
    name = "Airdeck"
  }
  expect_failures = [var.name]
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
    dns_zone = "Z0123456789ABC"
  }
  expect_failures = [var.dns_zone]
}

run "bad_node_instance_type_is_refused" {
  command = plan
  variables {
    node_instance_type = "xlarge"
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
    node_max_count = 101
  }
  expect_failures = [var.node_max_count]
}

run "bad_db_instance_class_is_refused" {
  command = plan
  variables {
    db_instance_class = "m6g.large"
  }
  expect_failures = [var.db_instance_class]
}

run "bad_cache_node_type_is_refused" {
  command = plan
  variables {
    cache_node_type = "m6g.large"
  }
  expect_failures = [var.cache_node_type]
}

run "bad_cluster_admins_is_refused" {
  command = plan
  variables {
    cluster_admins = ["arn:aws:iam::123456789012:group/admins"]
  }
  expect_failures = [var.cluster_admins]
}

run "ipv6_operator_cidrs_are_refused" {
  command = plan
  variables {
    operator_cidrs = ["2001:db8::/48"]
  }
  expect_failures = [var.operator_cidrs]
}
