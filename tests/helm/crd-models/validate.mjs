// Validates Kubernetes custom resources against their CRDs' schemas, with the validators the
// @kubernetes-models packages generate from those schemas. Usage: node validate.mjs MODELS_DIR, where
// MODELS_DIR holds node_modules installed from this folder's package-lock.json (scripts/test puts it
// in .tools/crd-models). Reads a JSON list of objects on stdin and prints a JSON list of
// {kind, name, error} for each invalid one (an API group without a model is an error too).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const modelsDir = process.argv[2];

const PACKAGES = {
  "keda.sh": "@kubernetes-models/keda",
  "monitoring.coreos.com": "@kubernetes-models/prometheus-operator",
  "external-secrets.io": "@kubernetes-models/external-secrets",
  "gateway.networking.k8s.io": "@kubernetes-models/gateway-api",
};

const objects = JSON.parse(readFileSync(0, "utf8"));
const problems = [];
for (const obj of objects) {
  const where = { kind: obj.kind, name: obj.metadata?.name };
  const group = obj.apiVersion.split("/")[0];
  const pkg = PACKAGES[group];
  if (!pkg) {
    problems.push({ ...where, error: `no model package for API group ${group}` });
    continue;
  }
  let Model;
  try {
    const index = join(modelsDir, "node_modules", pkg, obj.apiVersion, "index.js");
    Model = (await import(pathToFileURL(index).href))[obj.kind];
  } catch (err) {
    problems.push({ ...where, error: `no model for ${obj.apiVersion}: ${err.message}` });
    continue;
  }
  if (!Model) {
    problems.push({ ...where, error: `${pkg} has no ${obj.kind} in ${obj.apiVersion}` });
    continue;
  }
  try {
    new Model(obj).validate();
  } catch (err) {
    problems.push({ ...where, error: String(err.message ?? err) });
  }
}
process.stdout.write(JSON.stringify(problems));
