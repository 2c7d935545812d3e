################################################################################
# The UI's TLS certificate (ACM), validated through Route 53 when dns_zone is given
################################################################################

data "aws_route53_zone" "this" {
  count = var.dns_zone != "" ? 1 : 0

  name         = var.dns_zone
  private_zone = false
}

resource "aws_acm_certificate" "ui" {
  count = var.host != "" ? 1 : 0

  domain_name       = var.host
  validation_method = "DNS"
  tags              = local.tags

  lifecycle {
    create_before_destroy = true

    precondition {
      condition     = var.dns_zone == "" || endswith(var.host, ".${trimsuffix(var.dns_zone, ".")}")
      error_message = "host ${var.host} is not inside dns_zone ${var.dns_zone}: give the zone the host name belongs to."
    }
  }
}

resource "aws_route53_record" "certificate_validation" {
  for_each = var.dns_zone != "" && var.host != "" ? {
    for option in aws_acm_certificate.ui[0].domain_validation_options : option.domain_name => option
  } : {}

  zone_id         = data.aws_route53_zone.this[0].zone_id
  name            = each.value.resource_record_name
  type            = each.value.resource_record_type
  records         = [each.value.resource_record_value]
  ttl             = 300
  allow_overwrite = true
}

resource "aws_acm_certificate_validation" "ui" {
  count = var.dns_zone != "" && var.host != "" ? 1 : 0

  certificate_arn         = aws_acm_certificate.ui[0].arn
  validation_record_fqdns = [for record in aws_route53_record.certificate_validation : record.fqdn]
}
