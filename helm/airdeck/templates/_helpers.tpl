{{/* Prefix of every object name: the release name (or fullnameOverride). Services are
<prefix>-<component>, which is how `airdeck run --release <prefix>` addresses them. */}}
{{- define "airdeck.fullname" -}}
{{- default .Release.Name .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{- define "airdeck.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Selector labels: small and immutable. Call with (dict "root" $ "component" "scheduler"). */}}
{{- define "airdeck.selectorLabels" -}}
app.kubernetes.io/name: airdeck
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "airdeck.labels" -}}
{{ include "airdeck.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: airdeck
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ include "airdeck.chart" .root }}
{{- with omit (merge (dict) (default dict .root.Values.labels) (default dict .root.Values.commonLabels)) "app.kubernetes.io/name" "app.kubernetes.io/instance" "app.kubernetes.io/component" "app.kubernetes.io/version" "app.kubernetes.io/part-of" "app.kubernetes.io/managed-by" "helm.sh/chart" }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "airdeck.serviceAccountName" -}}
{{- default (include "airdeck.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{- define "airdeck.image" -}}
{{- $img := .image -}}
{{- $tag := default .root.Chart.AppVersion $img.tag -}}
{{- if $img.digest -}}{{ $img.repository }}@{{ $img.digest }}{{- else -}}{{ $img.repository }}:{{ $tag }}{{- end -}}
{{- end -}}

{{/* airdeck.yaml values as a dict (never nil), with the paths of the LDAP secret files the api-server
mounts (auth.ldap.bindPasswordSecret, caSecret / caConfigMap) filled in. */}}
{{- define "airdeck.cfg" -}}
{{- $a := deepCopy (default dict .Values.airdeck) -}}
{{- $files := include "airdeck.ldapFiles" . | fromYaml -}}
{{- if $files -}}
{{- $auth := default dict (get $a "auth") -}}
{{- $ldap := default dict (get $auth "ldap") -}}
{{- $_ := set $auth "ldap" (merge $ldap $files) -}}
{{- $_ := set $a "auth" $auth -}}
{{- end -}}
{{- toYaml $a -}}
{{- end -}}

{{/* The airdeck.yaml keys (auth.ldap.*) the chart sets to the LDAP secret files it mounts: names relative
to `airdeck run --secrets-dir` (the api-server's secrets volume), which `airdeck run` resolves. */}}
{{- define "airdeck.ldapFiles" -}}
{{- $l := .Values.auth.ldap -}}
{{- if $l.bindPasswordSecret.name }}
bind_password_file: ldap_bind_password
{{- end }}
{{- if or $l.caSecret.name $l.caConfigMap.name }}
ca_file: ldap_ca.pem
{{- end }}
{{- end -}}

{{/* "true" when Vault holds the Fernet key, JWT secret and api secret_key. */}}
{{- define "airdeck.vaultPlatform" -}}
{{- $a := default dict .Values.airdeck -}}
{{- if and (eq (dig "secrets" "backend" "local" $a) "vault") (dig "secrets" "vault" "platform_secrets" false $a) -}}true{{- end -}}
{{- end -}}

{{- define "airdeck.vaultKubernetesAuth" -}}
{{- $a := default dict .Values.airdeck -}}
{{- if and (eq (dig "secrets" "backend" "local" $a) "vault") (eq (dig "secrets" "vault" "auth" "method" "token" $a) "kubernetes") -}}true{{- end -}}
{{- end -}}

{{- define "airdeck.alertsEnabled" -}}
{{- $a := default dict .Values.airdeck -}}
{{- if gt (len (dig "alerts" "channels" dict $a)) 0 -}}true{{- end -}}
{{- end -}}

{{- define "airdeck.apiPort" -}}
{{- dig "api_server" "port" 8080 (default dict .Values.airdeck) -}}
{{- end -}}

{{- define "airdeck.apiScheme" -}}
{{- if dig "tls" "enabled" false (default dict .Values.airdeck) -}}HTTPS{{- else -}}HTTP{{- end -}}
{{- end -}}

{{- define "airdeck.schedulerHealthPort" -}}
{{- dig "scheduler" "health_check_port" 8974 (default dict .Values.airdeck) -}}
{{- end -}}

{{- define "airdeck.workerLogPort" -}}
{{- dig "workers" "log_server_port" 8793 (default dict .Values.airdeck) -}}
{{- end -}}

{{/* The HPA's floor of worker pods: workers.hpa.minReplicas, else workers.replicas. */}}
{{- define "airdeck.workersHpaMin" -}}
{{- if kindIs "invalid" .Values.workers.hpa.minReplicas -}}{{ .Values.workers.replicas }}{{- else -}}{{ .Values.workers.hpa.minReplicas }}{{- end -}}
{{- end -}}

{{- define "airdeck.triggererLogPort" -}}
{{- dig "triggerer" "log_server_port" 8792 (default dict .Values.airdeck) -}}
{{- end -}}

{{/* An address or range as a CIDR: a bare address is one host (/32, or /128 for IPv6). */}}
{{- define "airdeck.cidr" -}}
{{- if contains "/" . -}}{{ . }}{{- else if contains ":" . -}}{{ . }}/128{{- else -}}{{ . }}/32{{- end -}}
{{- end -}}

{{- define "airdeck.dispatcherPort" -}}
{{- dig "alerts" "dispatcher" "port" 9465 (default dict .Values.airdeck) -}}
{{- end -}}

{{/* The platform secrets: (list valuesKey fileName defaultSuffix components). A pod mounts a secret
only when its component needs it (what `airdeck run` resolves for it: tests/helm check the table against
the plan, init containers included); "cli" is the migration Job; the canary (`helm test`) gets only
admin_password (through "admin"), being a client of the REST API; PgBouncer's pod and the database cleanup
CronJob only the database URL; the alert dispatcher
reads Airflow's configuration of one-off commands (it decrypts its channels' connections). Workers run
task code: broker and log-fetch key only. */}}
{{- define "airdeck.secretTable" -}}
- [fernetKey, fernet_key, fernet-key, [api-server, scheduler, dag-processor, triggerer, alert-dispatcher, cli]]
- [jwtSecret, jwt_secret, jwt-secret, []]
- [jwtPrivateKey, jwt_private_key, jwt-private-key, [api-server, scheduler]]
- [apiSecretKey, api_secret_key, api-secret-key, [api-server]]
- [logFetchKey, log_fetch_key, log-fetch-key, [api-server, triggerer, worker]]
- [adminPassword, admin_password, admin-password, []]
- [databaseUrl, database_url, database, [api-server, scheduler, dag-processor, triggerer, alert-dispatcher, cli, pgbouncer, db-cleanup]]
- [brokerUrl, broker_url, broker, [api-server, scheduler, dag-processor, triggerer, worker, alert-dispatcher, cli]]
{{- end -}}

{{- define "airdeck.secretName" -}}
{{- $s := index .root.Values.secrets .key -}}
{{- default (printf "%s-%s" (include "airdeck.fullname" .root) .suffix) $s.existingSecret -}}
{{- end -}}

{{/* The projected volume of one pod's secret files: those its component needs (admin_password when
"admin"). Call with (dict "root" $ "name" component "admin" bool); no name: the one-off jobs ("cli"). */}}
{{- define "airdeck.secretsVolume" -}}
- name: secrets
  projected:
    defaultMode: 0440
    sources:
{{- $root := .root }}
{{- $vault := include "airdeck.vaultPlatform" .root }}
{{- $component := default "cli" .name }}
{{- range (include "airdeck.secretTable" .root | fromYamlArray) }}
{{- $key := index . 0 }}{{ $file := index . 1 }}{{ $suffix := index . 2 }}{{ $users := index . 3 }}
{{- $platform := has $key (list "fernetKey" "jwtSecret" "apiSecretKey") }}
{{- if and (or (has $component $users) (and (eq $key "adminPassword") $.admin)) (not (and $platform $vault)) }}
      - secret:
          name: {{ include "airdeck.secretName" (dict "root" $root "key" $key "suffix" $suffix) }}
          items:
            - key: {{ (index $root.Values.secrets $key).key }}
              path: {{ $file }}
{{- end }}
{{- end }}
{{- if and (eq $component "canary") $root.Values.tests.signIn.username }}
{{- /* The password of the user the canary signs in as (tests.signIn). */ -}}
{{- with $root.Values.tests.signIn.passwordSecret }}
      - secret:
          name: {{ .name }}
          items:
            - key: {{ .key }}
              path: canary_password
{{- end }}
{{- end }}
{{- if eq $component "api-server" }}
{{- /* The LDAP directory's service account password and CA: only the api-server signs people in. */ -}}
{{- $l := $root.Values.auth.ldap }}
{{- with $l.bindPasswordSecret.name }}
      - secret:
          name: {{ . }}
          items:
            - key: {{ $l.bindPasswordSecret.key }}
              path: ldap_bind_password
{{- end }}
{{- with $l.caSecret.name }}
      - secret:
          name: {{ . }}
          items:
            - key: {{ $l.caSecret.key }}
              path: ldap_ca.pem
{{- end }}
{{- with $l.caConfigMap.name }}
      - configMap:
          name: {{ . }}
          items:
            - key: {{ $l.caConfigMap.key }}
              path: ldap_ca.pem
{{- end }}
{{- end }}
{{- end -}}

{{/* A digest of what the pods read: airdeck.yaml and the secret references (rolls the pods). */}}
{{- define "airdeck.checksums" -}}
checksum/airdeck-yaml: {{ include "airdeck.cfg" . | sha256sum }}
checksum/secrets: {{ toJson .Values.secrets | sha256sum }}
{{- end -}}

{{- define "airdeck.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 50000
runAsGroup: 50000
fsGroup: 50000
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "airdeck.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 50000
runAsGroup: 50000
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* The arguments of `airdeck run` for a component or job of this release. With pgbouncer.enabled every
component that holds the database URL (and its probe and wait-for-migrations) reaches it through PgBouncer; the migration
Job goes direct (its session-level advisory lock would not survive transaction pooling). */}}
{{- define "airdeck.runArgs" -}}
- run
- {{ .name }}
- --target
- kubernetes
- --release
- {{ include "airdeck.fullname" .root }}
- --secrets-dir
- /run/secrets/airdeck
{{- if and .root.Values.pgbouncer.enabled (not (has .name (list "migrate" "canary" "db-cleanup" "worker"))) }}
- --database-pooler
- {{ include "airdeck.fullname" .root }}-pgbouncer:{{ .root.Values.pgbouncer.port }}
{{- end }}
{{- end -}}

{{- define "airdeck.env" -}}
- name: AIRDECK_CONFIG
  value: /etc/airdeck/airdeck.yaml
- name: AIRDECK_HOME
  value: /opt/airdeck/home
- name: HOME
  value: /opt/airdeck/home
- name: TMPDIR
  value: /tmp
- name: PYTHONDONTWRITEBYTECODE
  value: "1"
{{- end -}}

{{/* The components that resolve connection .id (a key of .Values.connections, entry .spec): its
own `components`, else by use in airdeck.yaml: a git bundle's connection in the dag-processor (fetch)
and the workers (checkout of a run's version); an alert channel's in the alert dispatcher; any other
(a task's) in the workers and the triggerer, which read their environment first, and the api-server,
whose Execution API answers the tasks' connection requests. Never the scheduler by default: Airflow's
scheduler resolves no connection. A JSON list. */}}
{{- define "airdeck.connectionComponents" -}}
{{- $a := default dict .root.Values.airdeck -}}
{{- if .spec.components -}}
{{- toJson .spec.components -}}
{{- else -}}
{{- $out := list -}}
{{- range (dig "dags" "bundles" (list) $a) }}
{{- $git := default dict .git }}
{{- if eq (default "" $git.connection) $.id }}{{ $out = concat $out (list "dag-processor" "worker") }}{{ end }}
{{- end }}
{{- range $_, $ch := (dig "alerts" "channels" dict $a) }}
{{- if eq (default "" $ch.connection) $.id }}{{ $out = append $out "alert-dispatcher" }}{{ end }}
{{- end }}
{{- if not $out }}{{ $out = list "worker" "triggerer" "api-server" }}{{ end }}
{{- toJson (uniq $out) -}}
{{- end -}}
{{- end -}}

{{/* AIRFLOW_CONN_<ID> of every connection component .name resolves, each from its Secret's key
(the value never appears in the manifest). Call with (dict "root" $ "name" "worker"). */}}
{{- define "airdeck.connectionEnv" -}}
{{- range $id, $spec := .root.Values.connections }}
{{- if has $.name (include "airdeck.connectionComponents" (dict "root" $.root "id" $id "spec" $spec) | fromJsonArray) }}
- name: AIRFLOW_CONN_{{ upper $id }}
  valueFrom:
    secretKeyRef:
      name: {{ $spec.secret }}
      key: {{ $spec.key }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "airdeck.volumeMounts" -}}
- name: config
  mountPath: /etc/airdeck
  readOnly: true
- name: secrets
  mountPath: /run/secrets/airdeck
  readOnly: true
- name: home
  mountPath: /opt/airdeck/home
{{- if dig "persistence" "enabled" false (default dict .values) }}
- name: logs
  mountPath: /opt/airdeck/home/logs
{{- end }}
- name: tmp
  mountPath: /tmp
{{- with include "airdeck.extraVolumeMounts" (dict "root" .root "values" (default dict .values) "global" true) }}
{{ . }}
{{- end }}
{{- if and (include "airdeck.vaultKubernetesAuth" .root) (not (include "airdeck.automountToken" .)) }}
- name: sa-token
  mountPath: /var/run/secrets/kubernetes.io/serviceaccount
  readOnly: true
{{- end }}
{{- end -}}

{{- define "airdeck.volumes" -}}
- name: config
  configMap:
    name: {{ include "airdeck.fullname" .root }}-config
- name: home
  {{- with dig "logs" "sizeLimit" "" (default dict .values) }}
  emptyDir: {sizeLimit: {{ . }}}
  {{- else }}
  emptyDir: {}
  {{- end }}
- name: tmp
  emptyDir: {}
{{ include "airdeck.secretsVolume" . }}
{{- with include "airdeck.extraVolumes" (dict "root" .root "values" (default dict .values) "global" true) }}
{{ . }}
{{- end }}
{{- if and (include "airdeck.vaultKubernetesAuth" .root) (not (include "airdeck.automountToken" .)) }}
- name: sa-token
  projected:
    defaultMode: 0440
    sources:
      - serviceAccountToken:
          path: token
          expirationSeconds: 3600
{{- end }}
{{- end -}}

{{/* The init container every Airflow pod waits in until the schema is current. */}}
{{- define "airdeck.waitForMigrations" -}}
- name: wait-for-migrations
  image: {{ include "airdeck.image" (dict "root" .root "image" .root.Values.images.airdeck) }}
  imagePullPolicy: {{ .root.Values.images.airdeck.pullPolicy }}
  command: [airdeck]
  args:
    {{- include "airdeck.runArgs" (dict "root" .root "name" "wait-for-migrations") | nindent 4 }}
    - --migration-wait
    - {{ .root.Values.migrations.waitSeconds | quote }}
  env:
    {{- include "airdeck.env" . | nindent 4 }}
    {{- with include "airdeck.extraEnv" (dict "root" .root "values" .values "global" true) }}
    {{- . | nindent 4 }}
    {{- end }}
  {{- with include "airdeck.extraEnvFrom" . }}
  envFrom:
    {{- . | nindent 4 }}
  {{- end }}
  securityContext:
    {{- include "airdeck.containerSecurityContext" . | nindent 4 }}
  resources:
    {{- toYaml .root.Values.migrations.waitResources | nindent 4 }}
  volumeMounts:
    {{- include "airdeck.volumeMounts" . | nindent 4 }}
{{- end -}}

{{/* The pod spec of an airdeck component. Call with (dict "root" $ "name" "scheduler" "values"
.Values.scheduler "admin" bool "ports" list "probes" yaml). */}}
{{- define "airdeck.podSpec" -}}
{{ include "airdeck.podCommon" (dict "root" .root "values" .values "name" .name "spread" true) }}
securityContext:
  {{- include "airdeck.podSecurityContext" . | nindent 2 }}
terminationGracePeriodSeconds: {{ .values.terminationGracePeriodSeconds }}
{{- $init := include "airdeck.extraContainers" (dict "root" .root "values" .values "init" true) }}
{{- if or (ne .name "worker") $init }}
initContainers:
  {{- /* extraInitContainers first: a native sidecar (a database proxy) is up before the wait. Workers
  hold no database credentials, so they cannot check migrations: tasks reach them only through the
  scheduler, which waits */}}
  {{- with $init }}
  {{- . | nindent 2 }}
  {{- end }}
  {{- if ne .name "worker" }}
  {{- include "airdeck.waitForMigrations" . | nindent 2 }}
  {{- end }}
{{- end }}
containers:
  - name: {{ .name }}
    image: {{ include "airdeck.image" (dict "root" .root "image" .root.Values.images.airdeck) }}
    imagePullPolicy: {{ .root.Values.images.airdeck.pullPolicy }}
    command: [airdeck]
    args:
      {{- include "airdeck.runArgs" . | nindent 6 }}
    env:
      {{- include "airdeck.env" . | nindent 6 }}
      {{- with include "airdeck.connectionEnv" . }}
      {{- . | nindent 6 }}
      {{- end }}
      {{- with include "airdeck.extraEnv" (dict "root" .root "values" .values "global" true) }}
      {{- . | nindent 6 }}
      {{- end }}
    {{- with include "airdeck.extraEnvFrom" . }}
    envFrom:
      {{- . | nindent 6 }}
    {{- end }}
    {{- with .ports }}
    ports:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    {{- .probes | nindent 4 }}
    securityContext:
      {{- include "airdeck.containerSecurityContext" . | nindent 6 }}
    resources:
      {{- toYaml .values.resources | nindent 6 }}
    volumeMounts:
      {{- include "airdeck.volumeMounts" . | nindent 6 }}
  {{- with include "airdeck.extraContainers" (dict "root" .root "values" .values "init" false) }}
  {{- . | nindent 2 }}
  {{- end }}
  {{- include "airdeck.logRetention" . | nindent 2 }}
volumes:
  {{- include "airdeck.volumes" . | nindent 2 }}
{{- end -}}

{{/* The log-retention sidecar of the pods that write task logs (workers, triggerer: those with a logs
block): it removes the files of $AIRDECK_HOME/logs/airflow older than airdeck.logging.retention, every
retention_interval (airdeck.tasklogs.retention, as the local stack's log-retention component does). None
when airdeck.logging.retention is null. */}}
{{- define "airdeck.retentionOn" -}}
{{- $logging := dig "logging" dict (default dict .Values.airdeck) }}
{{- if or (not (hasKey $logging "retention")) (index $logging "retention") }}true{{ end }}
{{- end -}}

{{- define "airdeck.logRetention" -}}
{{- $logging := dig "logging" dict (default dict .root.Values.airdeck) }}
{{- $retention := ternary (index $logging "retention") "30d" (hasKey $logging "retention") }}
{{- if and (dig "logs" false (default dict .values)) $retention }}
- name: log-retention
  image: {{ include "airdeck.image" (dict "root" .root "image" .root.Values.images.airdeck) }}
  imagePullPolicy: {{ .root.Values.images.airdeck.pullPolicy }}
  command: [python]
  args:
    - -m
    - airdeck.tasklogs.retention
    - --folder
    - /opt/airdeck/home/logs/airflow
    - --max-age
    - {{ $retention | toString | quote }}
    - --every
    - {{ dig "retention_interval" "1h" $logging | toString | quote }}
  env:
    - name: PYTHONDONTWRITEBYTECODE
      value: "1"
  securityContext:
    {{- include "airdeck.containerSecurityContext" . | nindent 4 }}
  resources:
    {{- toYaml .values.logs.retentionResources | nindent 4 }}
  volumeMounts:
    - name: home
      mountPath: /opt/airdeck/home
    {{- if dig "persistence" "enabled" false (default dict .values) }}
    - name: logs
      mountPath: /opt/airdeck/home/logs
    {{- end }}
{{- end }}
{{- end -}}

{{/* Pod labels: selector labels plus Azure Workload Identity's, on the pods whose ServiceAccount carries
the identity (azure.workload.identity/client-id) or is an existing one the chart cannot see into. */}}
{{- define "airdeck.podLabels" -}}
{{ include "airdeck.labels" . }}
{{- if and .root.Values.azureWorkloadIdentity (include "airdeck.azureIdentityPod" .) }}
azure.workload.identity/use: "true"
{{- end }}
{{- end -}}

{{- define "airdeck.azureIdentityPod" -}}
{{- if not .values -}}true
{{- else -}}
{{- $sa := default dict .values.serviceAccount -}}
{{- $annotations := include "airdeck.componentServiceAccountAnnotations" (dict "root" .root "values" .values) | fromYaml -}}
{{- if or (hasKey $annotations "azure.workload.identity/client-id") (and $sa.name (not (include "airdeck.createsServiceAccount" (dict "root" .root "values" .values)))) -}}true{{- end -}}
{{- end -}}
{{- end -}}

{{/* Exec probe: `airdeck run NAME --probe`. */}}
{{- define "airdeck.execProbe" -}}
exec:
  command:
    - airdeck
    {{- include "airdeck.runArgs" . | nindent 4 }}
    - --probe
{{- end -}}

{{/* checkov skips of a workload, each with its reason. Call with (dict "from" N) to number them; with
"root" and "name" (an airdeck component) also the skip of its connection environment, if it has one. */}}
{{- define "airdeck.checkovSkips" -}}
checkov.io/skip{{ .from }}: "CKV_K8S_43=images are pinned by digest through images.NAME.digest; the default is the release tag so one chart serves any registry mirror"
checkov.io/skip{{ add .from 1 }}: "CKV_K8S_15=pullPolicy IfNotPresent with immutable release tags; Always would keep pods from starting during a registry outage (images.NAME.pullPolicy)"
{{- if and .root (include "airdeck.connectionEnv" .) }}
checkov.io/skip{{ add .from 2 }}: "CKV_K8S_35=Airflow reads connections from AIRFLOW_CONN_* environment variables (its EnvironmentVariablesBackend); only the connections.* references are env, each in the components that resolve it; the platform secrets are files"
{{- end }}
{{- if and .root (has .name (list "worker" "triggerer")) (include "airdeck.retentionOn" .root) }}
checkov.io/skip{{ add .from 3 }}: "CKV_K8S_8=the log-retention sidecar serves nothing and only sleeps between sweeps; the container restarts when it exits (the main container has its liveness probe)"
checkov.io/skip{{ add .from 4 }}: "CKV_K8S_9=the log-retention sidecar serves nothing; a readiness probe on it would only make the log-serving pod unready (the main container has its readiness probe)"
{{- end }}
{{- end -}}

{{/* The pod template of the migration Job (its name carries this text's digest). Call with (dict "root" $
"name" "migrate"). */}}
{{- define "airdeck.migrateTemplate" -}}
{{- $root := .root -}}
{{- $v := $root.Values.migrations -}}
metadata:
  labels:
    {{- include "airdeck.componentLabels" (dict "root" $root "component" .name "values" $v) | nindent 4 }}
  annotations:
    {{- include "airdeck.checksums" $root | nindent 4 }}
    {{- with $v.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
    {{- if and $root.Values.auth.syncRoles $root.Values.auth.roles }}
    checksum/roles: {{ toYaml $root.Values.auth.roles | sha256sum }}
    {{- end }}
spec:
  restartPolicy: OnFailure
  {{- include "airdeck.podCommon" (dict "root" $root "values" $v "name" .name) | nindent 2 }}
  securityContext:
    {{- include "airdeck.podSecurityContext" . | nindent 4 }}
  {{- with include "airdeck.extraContainers" (dict "root" $root "values" $v "init" true) }}
  initContainers:
    {{- . | nindent 4 }}
  {{- end }}
  containers:
    - name: {{ .name }}
      image: {{ include "airdeck.image" (dict "root" $root "image" $root.Values.images.airdeck) }}
      imagePullPolicy: {{ $root.Values.images.airdeck.pullPolicy }}
      command: [airdeck]
      args:
        {{- include "airdeck.runArgs" (dict "root" $root "name" .name) | nindent 8 }}
        {{- if $root.Values.auth.syncRoles }}
        - --sync-roles
        {{- if $root.Values.auth.roles }}
        - --roles-file
        - /etc/airdeck/roles.yaml
        {{- end }}
        {{- end }}
      env:
        {{- include "airdeck.env" . | nindent 8 }}
        {{- with include "airdeck.extraEnv" (dict "root" $root "values" $v "global" true) }}
        {{- . | nindent 8 }}
        {{- end }}
      {{- with include "airdeck.extraEnvFrom" . }}
      envFrom:
        {{- . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- include "airdeck.containerSecurityContext" . | nindent 8 }}
      resources:
        {{- toYaml $v.resources | nindent 8 }}
      volumeMounts:
        {{- include "airdeck.volumeMounts" (dict "root" $root "values" $v) | nindent 8 }}
    {{- with include "airdeck.extraContainers" (dict "root" $root "values" $v "init" false) }}
    {{- . | nindent 4 }}
    {{- end }}
  volumes:
    {{- include "airdeck.volumes" (dict "root" $root "values" $v "admin" true) | nindent 4 }}
{{- end -}}

{{/* Where a pod may run: its component's nodeSelector, tolerations and affinity (.values), else the
global ones (top-level nodeSelector, tolerations, affinity); the default affinity, when .name is given,
spreads the component's pods across nodes. The one place a pod's scheduling is rendered. Call with
(dict "root" $ "values" .Values.scheduler "name" "scheduler"). */}}
{{- define "airdeck.scheduling" -}}
{{- $nodeSelector := or .values.nodeSelector .root.Values.nodeSelector }}
{{- $tolerations := or .values.tolerations .root.Values.tolerations }}
{{- $affinity := or .values.affinity .root.Values.affinity }}
{{- with $nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- if $affinity }}
affinity:
  {{- toYaml $affinity | nindent 2 }}
{{- else if .name }}
affinity:
  podAntiAffinity:
    preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 100
        podAffinityTerm:
          topologyKey: kubernetes.io/hostname
          labelSelector:
            matchLabels:
              {{- include "airdeck.selectorLabels" (dict "root" .root "component" .name) | nindent 14 }}
{{- end }}
{{- end -}}

{{/* ---- The official chart's extension keys. Each reaches every pod it should through one helper below;
.values is a component's values (.Values.scheduler, .Values.migrations, .Values.tests, …). ---- */}}

{{/* A value the official chart takes as a YAML string (rendered with tpl) or as a list of objects, as a
JSON list of objects. Call with (dict "root" $ "value" .Values.extraEnv "key" "extraEnv"). */}}
{{- define "airdeck.listValue" -}}
{{- $v := .value -}}
{{- if kindIs "string" $v -}}
{{- $out := list -}}
{{- if trim $v -}}
{{- $out = tpl $v .root | fromYamlArray -}}
{{- end -}}
{{- range $out }}
{{- if not (kindIs "map" .) }}{{ fail (printf "%s: must be a YAML list of objects (a string, as the official chart takes it, or a list); found: %v" $.key .) }}{{ end }}
{{- end }}
{{- toJson $out -}}
{{- else -}}
{{- toJson (default list $v) -}}
{{- end -}}
{{- end -}}

{{/* The env of an airdeck container besides airdeck's own: the global env, extraEnv, then the component's
env (later entries of one name win). Not the Airflow settings: `airdeck run` renders those from airdeck.yaml
and drops AIRFLOW__* from the environment, so such a name is refused here with where to put it. Call with
(dict "root" $ "values" .Values.scheduler "global" true); "global" false: the component's env only. */}}
{{- define "airdeck.extraEnv" -}}
{{- $env := list -}}
{{- if .global -}}
{{- $env = concat (default list .root.Values.env) (include "airdeck.listValue" (dict "root" .root "value" .root.Values.extraEnv "key" "extraEnv") | fromJsonArray) -}}
{{- end -}}
{{- $env = concat $env (default list .values.env) -}}
{{- range $env }}
{{- if hasPrefix "AIRFLOW__" (toString .name) }}{{ fail (printf "env %s: airdeck renders Airflow's settings from airdeck.yaml and drops AIRFLOW__* variables; set it under airdeck.airflow.extra_config instead (section and key)" .name) }}{{ end }}
{{- if has (toString .name) (list "AIRDECK_CONFIG" "AIRDECK_HOME") }}{{ fail (printf "env %s: set by the chart (where airdeck.yaml and the home folder are mounted); remove it" .name) }}{{ end }}
{{- end }}
{{- with $env }}{{ toYaml . }}{{ end -}}
{{- end -}}

{{/* envFrom of an airdeck container (extraEnvFrom). Call with (dict "root" $). */}}
{{- define "airdeck.extraEnvFrom" -}}
{{- with include "airdeck.listValue" (dict "root" .root "value" .root.Values.extraEnvFrom "key" "extraEnvFrom") | fromJsonArray }}
{{- toYaml . }}
{{- end -}}
{{- end -}}

{{/* Further volume mounts of a container: the global volumeMounts (airdeck containers), then the
component's extraVolumeMounts. Call with (dict "root" $ "values" .Values.scheduler "global" true). */}}
{{- define "airdeck.extraVolumeMounts" -}}
{{- $mounts := default list .values.extraVolumeMounts -}}
{{- if .global }}{{ $mounts = concat (default list .root.Values.volumeMounts) $mounts }}{{ end -}}
{{- with $mounts }}{{ toYaml . }}{{ end -}}
{{- end -}}

{{/* Further volumes of a pod: the global volumes (airdeck pods), then the component's extraVolumes. */}}
{{- define "airdeck.extraVolumes" -}}
{{- $volumes := default list .values.extraVolumes -}}
{{- if .global }}{{ $volumes = concat (default list .root.Values.volumes) $volumes }}{{ end -}}
{{- with $volumes }}{{ toYaml . }}{{ end -}}
{{- end -}}

{{/* The sidecars (extraContainers) or init containers (extraInitContainers, "init" true) of a pod,
rendered with tpl. Call with (dict "root" $ "values" .Values.scheduler "init" bool). */}}
{{- define "airdeck.extraContainers" -}}
{{- $list := ternary .values.extraInitContainers .values.extraContainers (eq .init true) -}}
{{- with $list }}{{ tpl (toYaml .) $.root }}{{ end -}}
{{- end -}}

{{/* "true" when the chart creates a component's own ServiceAccount: its serviceAccount.create is true, or
unset (null) while serviceAccount.perComponent is on and it names no existing account. Call with (dict
"root" $ "values" v). */}}
{{- define "airdeck.createsServiceAccount" -}}
{{- $sa := default dict .values.serviceAccount -}}
{{- if kindIs "bool" $sa.create -}}{{ if $sa.create }}true{{ end }}
{{- else if and .root.Values.serviceAccount.perComponent (not $sa.name) -}}true
{{- end -}}
{{- end -}}

{{/* The ServiceAccount a component's pods run as: serviceAccount.name of the component, else
<prefix>-<name> when it has its own (airdeck.createsServiceAccount), else the shared one. Call with
(dict "root" $ "values" v "name" n). */}}
{{- define "airdeck.componentServiceAccount" -}}
{{- $sa := default dict .values.serviceAccount -}}
{{- if $sa.name -}}{{ $sa.name }}
{{- else if include "airdeck.createsServiceAccount" . -}}{{ include "airdeck.fullname" .root }}-{{ .name }}
{{- else -}}{{ include "airdeck.serviceAccountName" .root }}
{{- end -}}
{{- end -}}

{{/* "true" when some pod runs as the shared ServiceAccount: a component without one of its own, or the
bundled PostgreSQL or Redis (mode dev), PgBouncer, the database cleanup CronJob. */}}
{{- define "airdeck.sharedServiceAccountUsed" -}}
{{- $shared := include "airdeck.serviceAccountName" . -}}
{{- $used := or .Values.postgresql.enabled .Values.redis.enabled .Values.pgbouncer.enabled .Values.databaseCleanup.enabled -}}
{{- range (include "airdeck.componentTable" . | fromYamlArray) -}}
{{- if eq (include "airdeck.componentServiceAccount" (dict "root" $ "values" (index $.Values (index . 0)) "name" (index . 1))) $shared -}}
{{- $used = true -}}
{{- end -}}
{{- end -}}
{{- if $used -}}true{{- end -}}
{{- end -}}

{{/* The annotations of the ServiceAccount a component's pods run as, when the chart creates it (its own,
or the shared one); empty for an existing account named by serviceAccount.name. */}}
{{- define "airdeck.componentServiceAccountAnnotations" -}}
{{- $sa := default dict .values.serviceAccount -}}
{{- if include "airdeck.createsServiceAccount" . -}}{{ toYaml (default dict $sa.annotations) }}
{{- else if $sa.name -}}{{ toYaml dict }}
{{- else if .root.Values.serviceAccount.create -}}{{ toYaml (default dict .root.Values.serviceAccount.annotations) }}
{{- else -}}{{ toYaml dict }}
{{- end -}}
{{- end -}}

{{/* "true" when a component's pods mount the Kubernetes API token: its serviceAccount says so, or the
workers run KubernetesPodOperator. */}}
{{- define "airdeck.automountToken" -}}
{{- if or (dig "serviceAccount" "automountServiceAccountToken" false (default dict .values)) (and (eq (toString .name) "worker") .root.Values.workers.kubernetesPodOperator.enabled) -}}true{{- end -}}
{{- end -}}

{{/* The components of the chart: (valuesKey name) of each that may create its own ServiceAccount. */}}
{{- define "airdeck.componentTable" -}}
- [apiServer, api-server]
- [scheduler, scheduler]
- [dagProcessor, dag-processor]
- [triggerer, triggerer]
- [workers, worker]
- [alertDispatcher, alert-dispatcher]
- [statsdExporter, statsd-exporter]
- [migrations, migrate]
- [tests, canary]
{{- end -}}

{{/* The pod-level keys every pod shares: ServiceAccount and its token, pull Secrets (images.pullSecrets
and imagePullSecrets, names or {name:}), priorityClassName, topologySpreadConstraints (the component's,
else the global ones) and scheduling. Call with (dict "root" $ "values" v "name" n "spread" bool); "spread"
gives the default anti-affinity (airdeck.scheduling). */}}
{{- define "airdeck.podCommon" -}}
serviceAccountName: {{ include "airdeck.componentServiceAccount" . }}
automountServiceAccountToken: {{ ternary "true" "false" (eq (include "airdeck.automountToken" .) "true") }}
{{- $secrets := list }}
{{- range concat (default list .root.Values.images.pullSecrets) (default list .root.Values.imagePullSecrets) }}
{{- $secrets = append $secrets (kindIs "map" . | ternary . (dict "name" .)) }}
{{- end }}
{{- with uniq $secrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with (or .values.topologySpreadConstraints .root.Values.topologySpreadConstraints) }}
topologySpreadConstraints:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{ include "airdeck.scheduling" (dict "root" .root "values" .values "name" (ternary .name "" (eq .spread true))) }}
{{- end -}}

{{/* Labels of a component's workload and pods: the chart's labels plus the component's labels. */}}
{{- define "airdeck.componentLabels" -}}
{{- $own := include "airdeck.podLabels" . | fromYaml -}}
{{- toYaml (merge $own (dig "labels" dict (default dict .values))) -}}
{{- end -}}

{{/* "true" when the api-server's Ingress is rendered: ingress.enabled or the official ingress.apiServer.enabled. */}}
{{- define "airdeck.ingressEnabled" -}}
{{- if or .Values.ingress.enabled .Values.ingress.apiServer.enabled -}}true{{- end -}}
{{- end -}}

{{/* The spec of a PodDisruptionBudget from podDisruptionBudget.config (the official chart's shape): a
minAvailable given replaces the default maxUnavailable (Kubernetes takes one of the two). */}}
{{- define "airdeck.pdbConfig" -}}
{{- $c := default dict . -}}
{{- if not (kindIs "invalid" (index $c "minAvailable")) }}{{ $c = omit $c "maxUnavailable" }}{{ end -}}
{{- toYaml $c -}}
{{- end -}}

{{/* The name of a StatefulSet with task logs (workers, triggerer): <prefix>-<component>, or with
<component>.persistence on, <prefix>-<component>-<digest of persistence>. A StatefulSet's
volumeClaimTemplates cannot change in place, so a change of them is a new StatefulSet, never a refused
upgrade. */}}
{{- define "airdeck.statefulSetName" -}}
{{- $p := dig "persistence" dict (default dict .values) -}}
{{- if $p.enabled -}}
{{ include "airdeck.fullname" .root }}-{{ .name }}-{{ toYaml $p | sha256sum | trunc 8 }}
{{- else -}}
{{ include "airdeck.fullname" .root }}-{{ .name }}
{{- end -}}
{{- end -}}

{{/* volumeClaimTemplates of a StatefulSet with <component>.persistence on (the claim "logs"). */}}
{{- define "airdeck.logsClaimTemplates" -}}
{{- $p := dig "persistence" dict (default dict .values) -}}
{{- if $p.enabled }}
- metadata:
    name: logs
    labels:
      {{- include "airdeck.selectorLabels" (dict "root" .root "component" .name) | nindent 6 }}
  spec:
    accessModes: [ReadWriteOnce]
    {{- with $p.storageClassName }}
    storageClassName: {{ . | quote }}
    {{- end }}
    resources:
      requests:
        storage: {{ $p.size | quote }}
{{- end }}
{{- end -}}
