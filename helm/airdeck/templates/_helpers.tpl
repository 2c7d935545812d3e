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
{{- with .root.Values.commonLabels }}
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
admin_password (through "admin"), being a client of the REST API; the alert dispatcher
reads Airflow's configuration of one-off commands (it decrypts its channels' connections). Workers run
task code: broker and log-fetch key only. */}}
{{- define "airdeck.secretTable" -}}
- [fernetKey, fernet_key, fernet-key, [api-server, scheduler, dag-processor, triggerer, alert-dispatcher, cli]]
- [jwtSecret, jwt_secret, jwt-secret, []]
- [jwtPrivateKey, jwt_private_key, jwt-private-key, [api-server, scheduler]]
- [apiSecretKey, api_secret_key, api-secret-key, [api-server]]
- [logFetchKey, log_fetch_key, log-fetch-key, [api-server, triggerer, worker]]
- [adminPassword, admin_password, admin-password, []]
- [databaseUrl, database_url, database, [api-server, scheduler, dag-processor, triggerer, alert-dispatcher, cli]]
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

{{/* The arguments of `airdeck run` for a component or job of this release. */}}
{{- define "airdeck.runArgs" -}}
- run
- {{ .name }}
- --target
- kubernetes
- --release
- {{ include "airdeck.fullname" .root }}
- --secrets-dir
- /run/secrets/airdeck
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
- name: tmp
  mountPath: /tmp
{{- if include "airdeck.vaultKubernetesAuth" .root }}
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
  emptyDir: {}
- name: tmp
  emptyDir: {}
{{ include "airdeck.secretsVolume" . }}
{{- if include "airdeck.vaultKubernetesAuth" .root }}
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
serviceAccountName: {{ include "airdeck.serviceAccountName" .root }}
automountServiceAccountToken: false
securityContext:
  {{- include "airdeck.podSecurityContext" . | nindent 2 }}
terminationGracePeriodSeconds: {{ .values.terminationGracePeriodSeconds }}
{{- with .root.Values.images.pullSecrets }}
imagePullSecrets:
  {{- range . }}
  - name: {{ . }}
  {{- end }}
{{- end }}
{{ include "airdeck.scheduling" (dict "root" .root "values" .values "name" .name) }}
{{- if ne .name "worker" }}
{{- /* workers hold no database credentials, so they cannot check migrations: tasks reach them only
through the scheduler, which waits */}}
initContainers:
  {{- include "airdeck.waitForMigrations" . | nindent 2 }}
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
volumes:
  {{- include "airdeck.volumes" . | nindent 2 }}
{{- end -}}

{{/* Pod labels: selector labels plus Azure Workload Identity's. */}}
{{- define "airdeck.podLabels" -}}
{{ include "airdeck.labels" . }}
{{- if .root.Values.azureWorkloadIdentity }}
azure.workload.identity/use: "true"
{{- end }}
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
{{- end -}}

{{/* The pod template of the migration Job (its name carries this text's digest). Call with (dict "root" $
"name" "migrate"). */}}
{{- define "airdeck.migrateTemplate" -}}
{{- $root := .root -}}
metadata:
  labels:
    {{- include "airdeck.podLabels" (dict "root" $root "component" .name) | nindent 4 }}
  annotations:
    {{- include "airdeck.checksums" $root | nindent 4 }}
    {{- if and $root.Values.auth.syncRoles $root.Values.auth.roles }}
    checksum/roles: {{ toYaml $root.Values.auth.roles | sha256sum }}
    {{- end }}
spec:
  restartPolicy: OnFailure
  serviceAccountName: {{ include "airdeck.serviceAccountName" $root }}
  automountServiceAccountToken: false
  securityContext:
    {{- include "airdeck.podSecurityContext" . | nindent 4 }}
  {{- with $root.Values.images.pullSecrets }}
  imagePullSecrets:
    {{- range . }}
    - name: {{ . }}
    {{- end }}
  {{- end }}
  {{- include "airdeck.scheduling" (dict "root" $root "values" $root.Values.migrations) | nindent 2 }}
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
      securityContext:
        {{- include "airdeck.containerSecurityContext" . | nindent 8 }}
      resources:
        {{- toYaml $root.Values.migrations.resources | nindent 8 }}
      volumeMounts:
        {{- include "airdeck.volumeMounts" (dict "root" $root) | nindent 8 }}
  volumes:
    {{- include "airdeck.volumes" (dict "root" $root "admin" true) | nindent 4 }}
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
