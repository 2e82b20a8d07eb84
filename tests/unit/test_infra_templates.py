"""What the CloudFormation templates in infra/ promise: read from the templates themselves.

The data stack's key policies are evaluated for the principals that matter (writer, exporter, operator,
an account administrator) by a small evaluator of the statements' principals, actions and conditions:
enough for the operators these templates use, not a full IAM engine.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from typing import Any

import pytest

from chalicelib.config import PROJECT_ROOT, Settings
from chalicelib.exporting.layout import file_context
from chalicelib.local.provision import load_template, template_resolver
from chalicelib.signing.submit import encryption_context
from chalicelib.storage.fingerprint_key import FINGERPRINT_KEY_CONTEXT
from chalicelib.web.headers import CONTENT_SECURITY_POLICY, security_headers

DATA = load_template(PROJECT_ROOT / "infra" / "data.yaml")
EDGE = load_template(PROJECT_ROOT / "infra" / "edge.yaml")

ACCOUNT = "123456789012"
REGION = "eu-central-1"
STAGE = "prod"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
WRITER = f"arn:aws:iam::{ACCOUNT}:role/eci-{STAGE}-api_handler"
EXPORTER = f"arn:aws:iam::{ACCOUNT}:role/eci-{STAGE}-export_worker"
COUNTER = f"arn:aws:iam::{ACCOUNT}:role/eci-{STAGE}-count_statements"
OPERATOR = f"arn:aws:iam::{ACCOUNT}:role/organiser"
ADMINISTRATOR = f"arn:aws:iam::{ACCOUNT}:role/Admin"
DYNAMODB = f"dynamodb.{REGION}.amazonaws.com"
S3 = f"s3.{REGION}.amazonaws.com"
# The contexts the code gives KMS (moto ignores key-policy conditions: only these tests tie the two).
STATEMENT = encryption_context("demo-2026")
FINGERPRINT = dict(FINGERPRINT_KEY_CONTEXT)
EXPORT_FILE = file_context("demo-2026", "2026-11-27", "DE", "de", 1)


def _resources(template: Mapping[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: resource for name, resource in template["Resources"].items() if resource["Type"] == kind}


def _data_resource(logical_id: str, operator: str = "") -> dict[str, Any]:
    """A data-stack resource's properties as CloudFormation would see them for stage prod."""
    resolver = template_resolver(DATA, {"Stage": STAGE, "OperatorPrincipalArn": operator}, ACCOUNT, REGION, "eci")
    resolver.refs["ExportBucket"] = f"eci-{STAGE}-exports-{ACCOUNT}-{REGION}"
    resolver.attributes[("ExportBucket", "Arn")] = f"arn:aws:s3:::{resolver.refs['ExportBucket']}"
    resolver.attributes[("ExportsKey", "Arn")] = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/exports"
    properties: dict[str, Any] = resolver.resolve(DATA["Resources"][logical_id]["Properties"])
    return properties


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# --- a small policy evaluator ------------------------------------------------------------------------


def _principal_matches(principal: Any, caller: str) -> bool:
    if principal == "*":
        return True
    if "AWS" not in principal:  # a service principal: not the caller of these tests
        return False
    return any(name in ("*", ROOT, caller) for name in _as_list(principal["AWS"]))


def _conditions_hold(conditions: Mapping[str, Mapping[str, Any]], request: Mapping[str, str]) -> bool:
    for operator, tests in conditions.items():
        for key, wanted in tests.items():
            if key not in request:
                return False  # every operator used in these key policies is a positive one
            actual, values = request[key], [str(value) for value in _as_list(wanted)]
            if operator in ("StringEquals", "ArnEquals"):
                matched = actual in values
            elif operator in ("StringLike", "ArnLike"):
                matched = any(fnmatch.fnmatchcase(actual, value) for value in values)
            else:
                raise AssertionError(f"the test's evaluator does not know {operator}")
            if not matched:
                return False
    return True


def allowed(policy: Mapping[str, Any], caller: str, action: str, context: Mapping[str, str] | None = None,
            via: str | None = None) -> bool:
    """Whether the key policy lets `caller` do `action` (directly, or through the service `via`)."""
    request = {"aws:PrincipalArn": caller, "kms:CallerAccount": ACCOUNT}
    request.update({f"kms:EncryptionContext:{key}": value for key, value in (context or {}).items()})
    if via:
        request["kms:ViaService"] = via
    for statement in policy["Statement"]:
        if statement["Effect"] == "Deny":
            raise AssertionError("the test's evaluator does not handle Deny in key policies")
        actions = _as_list(statement["Action"])
        if (_principal_matches(statement["Principal"], caller)
                and any(fnmatch.fnmatchcase(action, pattern) for pattern in actions)
                and _conditions_hold(statement.get("Condition", {}), request)):
            return True
    return False


def _key_policy(logical_id: str, operator: str = "") -> dict[str, Any]:
    policy: dict[str, Any] = _data_resource(logical_id, operator)["KeyPolicy"]
    return policy


# --- the data stack: keys ------------------------------------------------------------------------------


def test_writer_seals_statements_but_cannot_decrypt_them() -> None:
    policy = _key_policy("StatementsKey")

    assert allowed(policy, WRITER, "kms:GenerateDataKey", STATEMENT)
    for action in ("kms:Decrypt", "kms:ReEncryptFrom", "kms:CreateGrant"):
        assert not allowed(policy, WRITER, action, STATEMENT), action
    assert not allowed(policy, WRITER, "kms:GenerateDataKey", FINGERPRINT)


def test_only_the_exporter_opens_sealed_statements() -> None:
    policy = _key_policy("StatementsKey", OPERATOR)

    assert allowed(policy, EXPORTER, "kms:Decrypt", STATEMENT)
    for caller in (WRITER, COUNTER, OPERATOR, ADMINISTRATOR):
        assert not allowed(policy, caller, "kms:Decrypt", STATEMENT), caller
    assert not allowed(policy, EXPORTER, "kms:Decrypt", FINGERPRINT)


def test_dynamodb_alone_unwraps_the_statements_tables_key_for_its_callers() -> None:
    """DynamoDB encrypts the table with the statements key on behalf of each caller of the table."""
    policy = _key_policy("StatementsKey")

    for caller in (WRITER, COUNTER, EXPORTER):
        assert allowed(policy, caller, "kms:Decrypt", {"aws:dynamodb:tableName": "x"}, via=DYNAMODB), caller
        assert not allowed(policy, caller, "kms:Decrypt", {"aws:dynamodb:tableName": "x"}, via=S3), caller
    for statement in policy["Statement"]:
        if statement["Principal"] == "*":
            assert statement["Condition"]["StringEquals"] == {"kms:CallerAccount": ACCOUNT,
                                                             "kms:ViaService": DYNAMODB}


def test_account_administrators_manage_keys_but_cannot_use_them() -> None:
    for logical_id in _resources(DATA, "AWS::KMS::Key"):
        policy = _key_policy(logical_id, OPERATOR)
        assert allowed(policy, ADMINISTRATOR, "kms:PutKeyPolicy"), logical_id
        assert allowed(policy, ADMINISTRATOR, "kms:ScheduleKeyDeletion"), logical_id
        for action in ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom", "kms:CreateGrant"):
            for context in (STATEMENT, FINGERPRINT, EXPORT_FILE):
                assert not allowed(policy, ADMINISTRATOR, action, context), (logical_id, action)


def test_writer_alone_unwraps_the_fingerprint_key_which_the_operator_creates() -> None:
    policy = _key_policy("FingerprintKey", OPERATOR)

    assert allowed(policy, WRITER, "kms:Decrypt", FINGERPRINT)
    assert not allowed(policy, WRITER, "kms:Decrypt", STATEMENT)
    for caller in (EXPORTER, OPERATOR, ADMINISTRATOR):
        assert not allowed(policy, caller, "kms:Decrypt", FINGERPRINT), caller
    assert allowed(policy, OPERATOR, "kms:GenerateDataKeyWithoutPlaintext", FINGERPRINT)
    assert not allowed(policy, OPERATOR, "kms:GenerateDataKey", FINGERPRINT)  # never the plaintext key
    assert not allowed(policy, ADMINISTRATOR, "kms:GenerateDataKeyWithoutPlaintext", FINGERPRINT)


def test_operator_decrypts_exports_and_nothing_else() -> None:
    exports, statements = _key_policy("ExportsKey", OPERATOR), _key_policy("StatementsKey", OPERATOR)

    assert allowed(exports, OPERATOR, "kms:Decrypt", EXPORT_FILE)
    assert allowed(exports, OPERATOR, "kms:Decrypt", {"aws:s3:arn": "x"}, via=S3)
    assert not allowed(statements, OPERATOR, "kms:Decrypt", STATEMENT)
    for caller in (WRITER, ADMINISTRATOR):
        assert not allowed(exports, caller, "kms:Decrypt", EXPORT_FILE), caller


def test_without_a_named_operator_no_principal_of_the_account_may_decrypt_exports() -> None:
    """Any principal whose IAM policies allow kms:Decrypt would otherwise read every export."""
    policy = _key_policy("ExportsKey")

    for caller in (ADMINISTRATOR, OPERATOR, WRITER):
        assert not allowed(policy, caller, "kms:Decrypt", EXPORT_FILE), caller
    assert allowed(policy, EXPORTER, "kms:Decrypt", {"aws:s3:arn": "x"}, via=S3)  # its own progress still
    assert not allowed(_key_policy("StatementsKey"), ADMINISTRATOR, "kms:Decrypt", STATEMENT)


def test_exporter_encrypts_exports_and_reads_its_objects_only_through_s3() -> None:
    policy = _key_policy("ExportsKey", OPERATOR)

    assert allowed(policy, EXPORTER, "kms:GenerateDataKey", EXPORT_FILE)
    assert allowed(policy, EXPORTER, "kms:Decrypt", {"aws:s3:arn": "x"}, via=S3)
    assert not allowed(policy, EXPORTER, "kms:Decrypt", EXPORT_FILE)
    assert not allowed(policy, WRITER, "kms:GenerateDataKey", EXPORT_FILE)


def test_key_policies_name_the_roles_chalice_creates() -> None:
    """chalice deploy names each function's role {app}-{stage}-{function} (per-function policy files)."""
    import json

    config = json.loads((PROJECT_ROOT / ".chalice" / "config.json").read_text(encoding="utf-8"))
    functions = config["stages"][STAGE]["lambda_functions"]
    named = set(re.findall(r"role/([\w-]+)", str([_key_policy(key) for key in _resources(DATA, "AWS::KMS::Key")])))
    assert named == {f"{config['app_name']}-{STAGE}-{name}" for name in ("api_handler", "export_worker")}
    assert {"api_handler", "export_worker"} <= set(functions)


def test_every_key_rotates_and_outlives_its_stack() -> None:
    for logical_id, key in _resources(DATA, "AWS::KMS::Key").items():
        # KMS rotates symmetric keys only; the signing key is asymmetric, and past runs need it as it is.
        symmetric = key["Properties"].get("KeyUsage", "ENCRYPT_DECRYPT") == "ENCRYPT_DECRYPT"
        assert key["Properties"].get("EnableKeyRotation") is (True if symmetric else None), logical_id
        assert key["DeletionPolicy"] == "RetainExceptOnCreate", logical_id
        assert key["UpdateReplacePolicy"] == "Retain", logical_id


@pytest.mark.parametrize("template", [DATA, EDGE], ids=["data", "edge"])
def test_what_holds_data_outlives_its_stack_but_a_failed_creation_leaves_nothing_behind(
    template: Mapping[str, Any]
) -> None:
    """Retain would keep a rolled-back creation's fixed-name table, bucket or key, and the retry would fail."""
    kept = {name: resource for name, resource in template["Resources"].items() if "DeletionPolicy" in resource}
    assert kept
    for name, resource in kept.items():
        assert resource["DeletionPolicy"] == "RetainExceptOnCreate", name
        assert resource.get("UpdateReplacePolicy", "Retain") == "Retain", name


def test_both_tables_are_protected_and_recoverable_once_created() -> None:
    """PITR always; deletion protection from the update right after creation (make deploy's two steps)."""
    assert DATA["Conditions"]["ProtectTables"] == {"Fn::Equals": [{"Ref": "TableDeletionProtection"}, "true"]}
    assert DATA["Parameters"]["TableDeletionProtection"]["Default"] == "true"
    for logical_id in ("StatementsTable", "CountersTable"):
        properties = DATA["Resources"][logical_id]["Properties"]
        assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}, logical_id
        assert properties["DeletionProtectionEnabled"] == {"Fn::If": ["ProtectTables", True, False]}, logical_id
        for given, protected in (("true", True), ("false", False)):
            resolver = template_resolver(DATA, {"Stage": STAGE, "TableDeletionProtection": given}, ACCOUNT, REGION,
                                         "eci")
            assert resolver.resolve(properties["DeletionProtectionEnabled"]) is protected, logical_id


def test_only_the_exporter_signs_manifests_and_anyone_of_the_account_reads_the_public_key() -> None:
    policy = _key_policy("ExportSigningKey", OPERATOR)
    key = DATA["Resources"]["ExportSigningKey"]["Properties"]

    assert (key["KeyUsage"], key["KeySpec"]) == ("SIGN_VERIFY", "ECC_NIST_P256")
    assert allowed(policy, EXPORTER, "kms:Sign")
    for caller in (WRITER, COUNTER, OPERATOR, ADMINISTRATOR):
        assert not allowed(policy, caller, "kms:Sign"), caller
        assert allowed(policy, caller, "kms:GetPublicKey"), caller


# --- the data stack: tables and bucket -----------------------------------------------------------------


def test_statements_table_is_encrypted_with_the_statements_key_and_cannot_be_lost() -> None:
    table = DATA["Resources"]["StatementsTable"]
    properties = table["Properties"]

    assert properties["SSESpecification"] == {"SSEEnabled": True, "SSEType": "KMS",
                                              "KMSMasterKeyId": {"Fn::GetAtt": ["StatementsKey", "Arn"]}}
    assert properties["StreamSpecification"] == {"StreamViewType": "KEYS_ONLY"}
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert properties["DeletionProtectionEnabled"] == {"Fn::If": ["ProtectTables", True, False]}  # true by default
    assert table["DeletionPolicy"] == "RetainExceptOnCreate"
    # The TTL attribute is the used form nonces' only: the purge destroys statements on the legal clock.
    from chalicelib.storage.statements import EXPIRES_ATTRIBUTE

    assert properties["TimeToLiveSpecification"] == {"AttributeName": EXPIRES_ATTRIBUTE, "Enabled": True}


def test_counted_records_never_expire_so_a_late_record_cannot_count_twice() -> None:
    properties = DATA["Resources"]["CountersTable"]["Properties"]

    assert "TimeToLiveSpecification" not in properties


def test_signed_out_sessions_expire_from_the_console_table_and_audit_entries_never_do() -> None:
    from chalicelib.storage.console_table import EXPIRES_AT

    properties = DATA["Resources"]["ConsoleTable"]["Properties"]

    # Only signed-out sessions carry the attribute (chalicelib/storage/console_table.py); audit entries never.
    assert properties["TimeToLiveSpecification"] == {"AttributeName": EXPIRES_AT, "Enabled": True}


def test_export_bucket_is_private_versioned_and_encrypted_with_the_exports_key() -> None:
    properties = DATA["Resources"]["ExportBucket"]["Properties"]

    (rule,) = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms",
                                                     "KMSMasterKeyID": {"Fn::GetAtt": ["ExportsKey", "Arn"]}}
    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
    assert set(properties["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(properties["PublicAccessBlockConfiguration"]) == 4


def _denies(policy: Mapping[str, Any], action: str, resource: str, operator: str, key: str) -> list[Any]:
    """The values of `key` under `operator` in the Deny statements that cover `action` on `resource`."""
    found = []
    for statement in policy["Statement"]:
        if statement["Effect"] != "Deny" or statement["Principal"] != "*":
            continue
        if not any(fnmatch.fnmatchcase(action, pattern) for pattern in _as_list(statement["Action"])):
            continue
        if not any(fnmatch.fnmatchcase(resource, pattern) for pattern in _as_list(statement["Resource"])):
            continue
        if key in statement.get("Condition", {}).get(operator, {}):
            found.append(statement["Condition"][operator][key])
    return found


def test_export_bucket_refuses_plain_http_and_puts_not_sealed_with_the_exports_key() -> None:
    properties = _data_resource("ExportBucketPolicy")
    policy, bucket = properties["PolicyDocument"], f"arn:aws:s3:::eci-{STAGE}-exports-{ACCOUNT}-{REGION}"

    assert properties["Bucket"] == f"eci-{STAGE}-exports-{ACCOUNT}-{REGION}"
    for action, resource in (("s3:GetObject", f"{bucket}/a"), ("s3:PutObject", f"{bucket}/a"),
                             ("s3:ListBucket", bucket)):
        assert _denies(policy, action, resource, "Bool", "aws:SecureTransport") == ["false"]
        assert _denies(policy, action, resource, "NumericLessThan", "s3:TlsVersion") == ["1.2"]
    put = ("s3:PutObject", f"{bucket}/demo/run/PL/file.xml.enc")
    assert _denies(policy, *put, "StringNotEqualsIfExists", "s3:x-amz-server-side-encryption") == ["aws:kms"]
    assert _denies(policy, *put, "StringNotEqualsIfExists", "s3:x-amz-server-side-encryption-aws-kms-key-id") == [
        f"arn:aws:kms:{REGION}:{ACCOUNT}:key/exports"]


def _reads_denied_to(policy: Mapping[str, Any], caller: str, action: str) -> bool:
    """Whether a Deny of the bucket policy (ArnNotEquals on the principal) stops `caller` doing `action`."""
    for statement in policy["Statement"]:
        not_equals = statement.get("Condition", {}).get("ArnNotEquals", {})
        if statement["Effect"] == "Deny" and action in _as_list(statement["Action"]) and not_equals:
            return caller not in _as_list(not_equals["aws:PrincipalArn"])
    return False


@pytest.mark.parametrize("operator", [OPERATOR, ""], ids=["operator-named", "no-operator"])
def test_export_files_are_read_only_by_the_exporter_and_the_named_operator(operator: str) -> None:
    policy = _data_resource("ExportBucketPolicy", operator)["PolicyDocument"]

    for action in ("s3:GetObject", "s3:GetObjectVersion"):
        assert not _reads_denied_to(policy, EXPORTER, action)
        assert _reads_denied_to(policy, OPERATOR, action) is (operator == "")
        for caller in (WRITER, COUNTER, ADMINISTRATOR, ROOT):
            assert _reads_denied_to(policy, caller, action), (caller, action)


def test_export_bucket_lifecycle_is_the_backstop_of_the_retention_clock() -> None:
    from datetime import date, timedelta

    from chalicelib.exporting.retention import MONTHS_AFTER_COLLECTION_START
    from chalicelib.initiative import add_months

    rules = {rule["Id"]: rule for rule in DATA["Resources"]["ExportBucket"]["Properties"]
             ["LifecycleConfiguration"]["Rules"]}
    starts = [date(2026, 1, 1) + timedelta(days=n) for n in range(4 * 366)]  # every day of a leap cycle
    longest_clock = max((add_months(start, MONTHS_AFTER_COLLECTION_START) - start).days for start in starts)
    backstop = rules["backstop-longest-retention"]
    # Exports are written after collection starts, so an object that expires at the longest clock never
    # goes before its initiative's clock has run out, and none outlives it.
    assert backstop["ExpirationInDays"] == longest_clock
    assert backstop["NoncurrentVersionExpiration"]["NoncurrentDays"] <= 7
    assert rules["abort-interrupted-uploads"]["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 1


def test_data_stack_keeps_the_outputs_the_deploy_reads() -> None:
    assert set(DATA["Outputs"]) >= {
        "StatementsTableName", "StatementsTableStreamArn", "CountersTableName", "StatementsKeyArn",
        "FingerprintKeyArn", "ExportsKeyArn", "ExportBucketName", "FingerprintKeyParameterName",
        "ExportSigningKeyArn"}


# --- the edge stack ------------------------------------------------------------------------------------


def _distribution() -> dict[str, Any]:
    config: dict[str, Any] = EDGE["Resources"]["Distribution"]["Properties"]["DistributionConfig"]
    return config


def _edge(logical_id: str) -> dict[str, Any]:
    properties: dict[str, Any] = EDGE["Resources"][logical_id]["Properties"]
    return properties


def test_edge_stack_is_made_in_us_east_1() -> None:
    assert "us-east-1" in EDGE["Description"]
    assertions = [rule["Assertions"] for rule in EDGE["Rules"].values()]
    assert [{"Assert": {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}}] in [
        [{"Assert": item["Assert"]} for item in rule] for rule in assertions]


def test_citizens_reach_the_site_only_over_https() -> None:
    config = _distribution()
    (origin,) = config["Origins"]

    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    # The only other behaviour, the organisers' console's, redirects to https too.
    assert [behaviour["ViewerProtocolPolicy"] for behaviour in config.get("CacheBehaviors", [])] in (
        [], ["redirect-to-https"])
    assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    assert origin["CustomOriginConfig"]["OriginSSLProtocols"] == ["TLSv1.2"]
    assert origin["DomainName"] == {"Ref": "ApiDomainName"}
    assert origin["OriginPath"] == {"Fn::Sub": "/${ApiStageName}"}
    assert EDGE["Parameters"]["ApiStageName"]["Default"] == "api"
    assert config["HttpVersion"] == "http2and3"
    assert EDGE["Parameters"]["PriceClass"]["Default"] == "PriceClass_100"
    with_alias = config["ViewerCertificate"]["Fn::If"][1]
    assert with_alias["MinimumProtocolVersion"].startswith("TLSv1.2")


def test_statement_submission_reaches_the_app_and_is_never_cached() -> None:
    behaviour = _distribution()["DefaultCacheBehavior"]

    assert "POST" in behaviour["AllowedMethods"]
    assert set(behaviour["AllowedMethods"]) == {"GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"}
    assert behaviour["CachedMethods"] == ["GET", "HEAD"]


def test_cloudfront_caches_only_what_the_apps_cache_control_allows() -> None:
    config = _edge("PageCachePolicy")["CachePolicyConfig"]
    assert _distribution()["DefaultCacheBehavior"]["CachePolicyId"] == {"Ref": "PageCachePolicy"}

    assert config["MinTTL"] == 0 and config["DefaultTTL"] == 0  # no Cache-Control: not cached
    key = config["ParametersInCacheKeyAndForwardedToOrigin"]
    assert key["QueryStringsConfig"] == {"QueryStringBehavior": "whitelist", "QueryStrings": ["lang", "ms"]}
    assert key["CookiesConfig"] == {"CookieBehavior": "none"}
    assert key["HeadersConfig"] == {"HeaderBehavior": "none"}  # the language is in ?lang=, by the function


def test_the_page_language_is_chosen_at_the_edge_before_the_cache() -> None:
    (association,) = _distribution()["DefaultCacheBehavior"]["FunctionAssociations"]

    assert association == {"EventType": "viewer-request",
                           "FunctionARN": {"Fn::GetAtt": ["LanguageFunction", "FunctionMetadata.FunctionARN"]}}
    assert _edge("LanguageFunction")["FunctionConfig"]["Runtime"] == "cloudfront-js-2.0"


def test_api_gateway_gets_its_own_host_and_what_the_form_needs() -> None:
    config = _edge("ApiOriginRequestPolicy")["OriginRequestPolicyConfig"]
    assert _distribution()["DefaultCacheBehavior"]["OriginRequestPolicyId"] == {"Ref": "ApiOriginRequestPolicy"}

    assert config["HeadersConfig"]["HeaderBehavior"] == "whitelist"
    headers = {header.lower() for header in config["HeadersConfig"]["Headers"]}
    assert "content-type" in headers
    assert "host" not in headers


def test_security_headers_are_the_apps_and_never_weaken_them() -> None:
    config = _edge("SecurityHeadersPolicy")["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    app = security_headers()
    assert _distribution()["DefaultCacheBehavior"]["ResponseHeadersPolicyId"] == {"Ref": "SecurityHeadersPolicy"}

    # The app's pages carry their own CSP; one here would also reach WAF's CAPTCHA page and block its script.
    assert "ContentSecurityPolicy" not in config
    assert app["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    hsts = config["StrictTransportSecurity"]
    assert f"max-age={hsts['AccessControlMaxAgeSec']}" in str(app["Strict-Transport-Security"])
    assert hsts["AccessControlMaxAgeSec"] >= 63072000  # two years
    assert hsts["IncludeSubdomains"] is True and hsts["Preload"] is True
    assert config["ContentTypeOptions"]["Override"] is True and app["X-Content-Type-Options"] == "nosniff"
    assert config["FrameOptions"]["FrameOption"] == app["X-Frame-Options"] == "DENY"
    assert config["ReferrerPolicy"]["ReferrerPolicy"] == app["Referrer-Policy"]


def test_access_logs_are_written_to_a_private_bucket_and_expire() -> None:
    logging = _distribution()["Logging"]
    bucket = EDGE["Resources"]["AccessLogBucket"]["Properties"]
    statements = _edge("AccessLogBucketPolicy")["PolicyDocument"]["Statement"]

    assert logging["Bucket"] == {"Fn::GetAtt": ["AccessLogBucket", "DomainName"]}
    assert logging["IncludeCookies"] is False
    assert bucket["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]}
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    (expiry,) = [rule for rule in bucket["LifecycleConfiguration"]["Rules"] if "ExpirationInDays" in rule]
    assert expiry["ExpirationInDays"] == {"Ref": "LogRetentionDays"}
    assert EDGE["Parameters"]["LogRetentionDays"]["Default"] == 90
    assert any(statement["Effect"] == "Deny" and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
               for statement in statements)


def _rules() -> dict[str, dict[str, Any]]:
    return {rule["Name"]: rule for rule in _edge("WebAcl")["Rules"]}


def test_waf_guards_the_distribution_with_a_rate_limit_and_amazons_rule_sets() -> None:
    acl = _edge("WebAcl")
    rules = _rules()

    assert _distribution()["WebACLId"] == {"Fn::GetAtt": ["WebAcl", "Arn"]}
    assert acl["Scope"] == "CLOUDFRONT"
    assert acl["DefaultAction"] == {"Allow": {}}
    (rate,) = [rule for rule in rules.values() if "RateBasedStatement" in rule["Statement"]
               and "ScopeDownStatement" not in rule["Statement"]["RateBasedStatement"]]
    assert rate["Action"] == {"Block": {}}
    assert rate["Statement"]["RateBasedStatement"]["AggregateKeyType"] == "IP"
    assert rate["Statement"]["RateBasedStatement"]["Limit"] == {"Ref": "RequestsPerIpPer5Minutes"}
    managed = {rule["Statement"]["ManagedRuleGroupStatement"]["Name"] for rule in rules.values()
               if "ManagedRuleGroupStatement" in rule["Statement"]}
    assert managed >= {"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet",
                       "AWSManagedRulesAmazonIpReputationList"}
    for rule in rules.values():
        if "ManagedRuleGroupStatement" in rule["Statement"]:
            assert rule["OverrideAction"] == {"None": {}}, rule["Name"]  # enforced, not merely counted
    assert len({rule["Priority"] for rule in rules.values()}) == len(rules)


def _method_and_path(rule: Mapping[str, Any]) -> tuple[str, str]:
    statements = rule["Statement"]["AndStatement"]["Statements"]
    matches = {next(iter(match["FieldToMatch"])): match for match in (s["ByteMatchStatement"] for s in statements)}
    assert matches["Method"]["PositionalConstraint"] == "EXACTLY"
    assert matches["UriPath"]["PositionalConstraint"] == "STARTS_WITH"
    return matches["Method"]["SearchString"], matches["UriPath"]["SearchString"]


def test_a_captcha_stands_before_the_form_and_guards_the_submission() -> None:
    captchas = {_method_and_path(rule) for rule in _rules().values() if rule.get("Action") == {"Captcha": {}}}

    assert captchas == {("GET", "/sign/"), ("POST", "/sign/")}


def test_a_solved_captcha_lasts_as_long_as_the_form_it_came_with() -> None:
    form_token_seconds = Settings.from_environ({
        "STATEMENTS_TABLE": "t", "COUNTERS_TABLE": "c", "STATEMENTS_KEY": "k", "FINGERPRINT_KEY_PARAMETER": "p",
    }).form_token_max_age_seconds
    assert _edge("WebAcl")["CaptchaConfig"]["ImmunityTimeProperty"]["ImmunityTime"] == {
        "Ref": "CaptchaImmunitySeconds"}
    assert EDGE["Parameters"]["CaptchaImmunitySeconds"]["Default"] >= form_token_seconds


def test_edge_stack_gives_the_deploy_its_outputs() -> None:
    assert set(EDGE["Outputs"]) >= {"DistributionDomainName", "DistributionId", "DistributionUrl", "WebAclArn",
                                    "AccessLogBucketName"}


@pytest.mark.parametrize("path", sorted((PROJECT_ROOT / "infra").glob("*.yaml")), ids=lambda path: path.name)
def test_every_template_names_its_resources_after_the_stage(path: Any) -> None:
    """Two stages in one account must not collide: every explicit name carries ${Stage}."""
    template = load_template(path)
    names = [value for resource in template["Resources"].values() for key, value in resource["Properties"].items()
             if key in ("TableName", "BucketName", "AliasName", "Name", "QueueName", "TopicName", "AlarmName",
                        "LogGroupName", "DashboardName", "UsagePlanName")]
    assert names
    for name in names:
        assert "${Stage}" in str(name), name


def test_cloudfront_proves_itself_to_the_app_with_a_secret_no_template_shows() -> None:
    from chalicelib.web.views import ORIGIN_VERIFY_HEADER

    [origin] = _distribution()["Origins"]
    assert origin["OriginCustomHeaders"] == [
        {"HeaderName": ORIGIN_VERIFY_HEADER, "HeaderValue": {"Ref": "OriginVerifySecret"}},
        {"HeaderName": "x-api-key", "HeaderValue": {"Ref": "ApiKeyValue"}},  # API Gateway's header for its keys
    ]
    for template, name in ((EDGE, "OriginVerifySecret"), (EDGE, "ApiKeyValue"), (API_ACCESS, "ApiKeyValue")):
        secret = template["Parameters"][name]
        assert secret["NoEcho"] is True and secret["MinLength"] >= 32 and "Default" not in secret, name


API_ACCESS = load_template(PROJECT_ROOT / "infra" / "api-access.yaml")


def test_the_key_cloudfront_sends_is_the_one_admitted_to_the_api_stage_chalice_made() -> None:
    resolver = template_resolver(API_ACCESS, {"Stage": STAGE, "RestApiId": "abc123defg", "ApiKeyValue": "k" * 64},
                                 ACCOUNT, REGION, f"eci-{STAGE}-api-access")
    for logical_id in API_ACCESS["Resources"]:
        resolver.refs[logical_id] = logical_id
    resources = {name: (resource["Type"], resolver.resolve(resource["Properties"]))
                 for name, resource in API_ACCESS["Resources"].items()}

    [key] = [properties for kind, properties in resources.values() if kind == "AWS::ApiGateway::ApiKey"]
    assert key["Value"] == "k" * 64 and key["Enabled"] is True
    # A new value replaces the key, which CloudFormation cannot do to a key with a name of its own.
    assert "Name" not in key
    [(plan_id, plan)] = [(name, properties) for name, (kind, properties) in resources.items()
                         if kind == "AWS::ApiGateway::UsagePlan"]
    assert plan["ApiStages"] == [{"ApiId": "abc123defg", "Stage": "api"}]
    [plan_key] = [properties for kind, properties in resources.values() if kind == "AWS::ApiGateway::UsagePlanKey"]
    [key_id] = [name for name, (kind, _) in resources.items() if kind == "AWS::ApiGateway::ApiKey"]
    assert plan_key == {"KeyId": key_id, "KeyType": "API_KEY", "UsagePlanId": plan_id}


# --- operations: alarms, their topics, logs, budget (infra/operations.yaml, and the edge's own) -------------

OPERATIONS = load_template(PROJECT_ROOT / "infra" / "operations.yaml")
FAILURES = load_template(PROJECT_ROOT / "infra" / "stream-failures.yaml")


def _operations(logical_id: str, template: Mapping[str, Any] = OPERATIONS, **parameters: str) -> dict[str, Any]:
    edge = {"ApiDomainName": f"abc123defg.execute-api.{REGION}.amazonaws.com", "OriginVerifySecret": "s" * 32,
            "ApiKeyValue": "k" * 64}
    given = {**(edge if template is EDGE else {}), "Stage": STAGE, **parameters}
    resolver = template_resolver(template, given, ACCOUNT, REGION, "eci")
    for name in template["Resources"]:
        resolver.refs.setdefault(name, f"{name}-ref")
        for attribute in ("Arn", "DomainName"):
            resolver.attributes[(name, attribute)] = f"{name}.{attribute}"
    properties: dict[str, Any] = resolver.resolve(template["Resources"][logical_id]["Properties"])
    return properties


def _alarms(template: Mapping[str, Any] = OPERATIONS) -> dict[str, dict[str, Any]]:
    return {name: _operations(name, template) for name in _resources(template, "AWS::CloudWatch::Alarm")}


def _watched(alarm: Mapping[str, Any]) -> tuple[str, str, dict[str, str]]:
    return alarm["Namespace"], alarm["MetricName"], {d["Name"]: d["Value"] for d in alarm["Dimensions"]}


def test_an_alarm_watches_each_thing_that_must_not_fail_silently() -> None:
    watched = [_watched(alarm) for alarm in _alarms().values() if "Dimensions" in alarm]
    watched_keys = {(namespace, metric, tuple(sorted(dimensions.items()))) for namespace, metric, dimensions in watched}
    function = f"eci-{STAGE}"
    expected = {
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible", (("QueueName", f"eci-{STAGE}-count-failures"),)),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible", (("QueueName", f"eci-{STAGE}-export-failures"),)),
        ("AWS/Lambda", "IteratorAge", (("FunctionName", f"{function}-count_statements"),)),
        ("AWS/Lambda", "Errors", (("FunctionName", f"{function}-purge_statements"),)),
        ("AWS/Lambda", "Errors", (("FunctionName", f"{function}-export_worker"),)),
        ("AWS/Lambda", "Errors", (("FunctionName", f"{function}-export_daily"),)),
        ("AWS/Lambda", "Errors", (("FunctionName", f"{function}-recount_statements"),)),
        ("AWS/Lambda", "Errors", (("FunctionName", f"{function}-count_statements"),)),
        ("AWS/Lambda", "Errors", (("FunctionName", f"{function}-console_actions"),)),
        ("AWS/Lambda", "Throttles", (("FunctionName", function),)),
        ("AWS/ApiGateway", "5XXError", (("ApiName", "eci"), ("Stage", "api"))),
    }
    assert expected <= watched_keys, sorted(expected - watched_keys)
    repairs = [alarm for alarm in _alarms().values() if alarm["MetricName"] == "CountRepairs"]
    assert [alarm["Namespace"] for alarm in repairs] == [f"ECI/{STAGE}"]


def test_every_alarm_tells_the_organisers_topic_and_missing_data_is_no_alarm() -> None:
    for template, topic in ((OPERATIONS, "AlarmTopic"), (EDGE, "EdgeAlarmTopic")):
        alarms = _alarms(template)
        assert alarms
        for name, alarm in alarms.items():
            assert alarm["AlarmActions"] == [f"{topic}-ref"], name
            assert alarm["TreatMissingData"] == "notBreaching", name
            assert alarm["AlarmName"].startswith(f"eci-{STAGE}-"), name


def test_the_organisers_subscribe_by_an_address_given_at_deploy() -> None:
    for template, subscription, topic in ((OPERATIONS, "AlarmSubscription", "AlarmTopic"),
                                          (EDGE, "EdgeAlarmSubscription", "EdgeAlarmTopic")):
        resource = template["Resources"][subscription]
        assert resource["Properties"] == {"TopicArn": {"Ref": topic}, "Protocol": "email",
                                          "Endpoint": {"Ref": "AlarmEmail"}}
        assert template["Parameters"]["AlarmEmail"]["Default"] == ""  # no address: the topic, no subscription
        assert "Condition" in resource
        pattern = template["Parameters"]["AlarmEmail"]["AllowedPattern"]
        assert re.fullmatch(pattern, "alarms@example.eu") and re.fullmatch(pattern, "")
        assert not re.fullmatch(pattern, "not an address")


def test_only_cloudwatch_and_budgets_of_this_account_publish_to_the_alarm_topic() -> None:
    statements = _operations("AlarmTopicPolicy")["PolicyDocument"]["Statement"]
    allowed_services = {statement["Principal"]["Service"] for statement in statements if statement["Effect"] == "Allow"}
    assert allowed_services == {"cloudwatch.amazonaws.com", "budgets.amazonaws.com"}
    for statement in statements:
        if statement["Effect"] == "Allow":
            assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}


def test_count_repairs_are_counted_from_the_words_the_recount_logs() -> None:
    metric = _operations("CountRepairsMetric")
    assert metric["LogGroupName"] == f"/aws/lambda/eci-{STAGE}-recount_statements"
    words = metric["FilterPattern"].strip('"')
    source = (PROJECT_ROOT / "chalicelib" / "counting" / "recount.py").read_text(encoding="utf-8")
    assert f'"{words} ' in source, "the recount no longer logs these words: the alarm would never ring"
    [transformation] = metric["MetricTransformations"]
    assert (transformation["MetricNamespace"], transformation["MetricName"]) == (f"ECI/{STAGE}", "CountRepairs")


def test_the_iterator_age_alarm_rings_well_within_the_streams_24_hours() -> None:
    alarm = _operations("CountIteratorAgeAlarm")
    seconds = OPERATIONS["Parameters"]["IteratorAgeAlarmSeconds"]
    assert int(alarm["Threshold"]) == seconds["Default"] * 1000 == 3_600_000  # IteratorAge is in milliseconds
    assert seconds["MaxValue"] < 24 * 3600


def test_every_log_group_of_the_templates_expires() -> None:
    for template in (OPERATIONS, EDGE):
        groups = _resources(template, "AWS::Logs::LogGroup")
        assert groups
        for name, group in groups.items():
            assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name
        assert template["Parameters"]["LogRetentionDays"]["Default"] == 90


def test_the_functions_logs_expire_as_config_json_says() -> None:
    import json

    config = json.loads((PROJECT_ROOT / ".chalice" / "config.json").read_text(encoding="utf-8"))
    for stage in config["stages"].values():
        assert stage["log_retention_in_days"] == 90
        assert not any("log_retention_in_days" in function for function in stage["lambda_functions"].values())


def test_waf_logs_every_request_to_a_group_that_expires_without_cookies() -> None:
    logging = _operations("WafLogging", EDGE)
    assert logging["ResourceArn"] == "WebAcl.Arn"
    [destination] = logging["LogDestinationConfigs"]
    assert destination == f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:WafLogGroup-ref"
    assert _operations("WafLogGroup", EDGE)["LogGroupName"] == f"aws-waf-logs-eci-{STAGE}"  # WAF's required prefix
    assert logging["RedactedFields"] == [{"SingleHeader": {"Name": "cookie"}}]


def test_cloudfront_5xx_and_waf_block_spikes_ring_in_us_east_1() -> None:
    watched = {_watched(alarm)[:2]: _watched(alarm)[2] for alarm in _alarms(EDGE).values()}
    assert watched[("AWS/CloudFront", "5xxErrorRate")] == {"DistributionId": "Distribution-ref", "Region": "Global"}
    assert watched[("AWS/WAFV2", "BlockedRequests")] == {"WebACL": f"eci-{STAGE}-edge", "Rule": "ALL"}
    assert _operations("WebAcl", EDGE)["Name"] == f"eci-{STAGE}-edge"


def test_the_api_stage_writes_access_logs_through_the_accounts_logging_role() -> None:
    role = _operations("ApiGatewayLoggingRole")
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "apigateway.amazonaws.com"}
    assert role["ManagedPolicyArns"] == [
        "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"]
    assert OPERATIONS["Resources"]["ApiGatewayAccount"]["Properties"]["CloudWatchRoleArn"] == {
        "Fn::GetAtt": ["ApiGatewayLoggingRole", "Arn"]}
    assert "ApiAccessLogGroupArn" in OPERATIONS["Outputs"]


def test_a_monthly_budget_warns_the_organisers_before_the_month_runs_out() -> None:
    budget = _operations("MonthlyBudget")
    assert budget["Budget"]["TimeUnit"] == "MONTHLY" and budget["Budget"]["BudgetType"] == "COST"
    assert budget["Budget"]["BudgetLimit"] == {"Amount": "30", "Unit": "USD"}
    kinds = {(item["Notification"]["NotificationType"], item["Notification"]["Threshold"])
             for item in budget["NotificationsWithSubscribers"]}
    assert kinds == {("ACTUAL", 80), ("FORECASTED", 100)}
    for item in budget["NotificationsWithSubscribers"]:
        assert item["Subscribers"] == [{"SubscriptionType": "SNS", "Address": "AlarmTopic-ref"}]


def test_the_dashboard_shows_every_function_and_queue_the_alarms_watch() -> None:
    import json

    body = json.loads(_operations("Dashboard")["DashboardBody"])
    text = json.dumps(body)
    for name in ("count_statements", "recount_statements", "export_daily", "export_worker", "purge_statements",
                 "console_actions"):
        assert f"eci-{STAGE}-{name}" in text, name
    for queue in ("count-failures", "export-failures"):
        assert f"eci-{STAGE}-{queue}" in text
    assert "CountRepairs" in text and "5XXError" in text


def test_a_failed_export_worker_lands_in_a_queue_its_role_may_send_to() -> None:
    import json

    queue = _operations("ExportFailureQueue", FAILURES)
    assert queue["QueueName"] == f"eci-{STAGE}-export-failures" and queue["SqsManagedSseEnabled"] is True
    assert "ExportFailureQueueArn" in FAILURES["Outputs"]
    policy = json.loads((PROJECT_ROOT / ".chalice" / f"policy-{STAGE}-export.json").read_text(encoding="utf-8"))
    sends = [statement for statement in policy["Statement"] if statement["Action"] == "sqs:SendMessage"]
    assert [statement["Resource"] for statement in sends] == [f"arn:aws:sqs:*:*:eci-{STAGE}-export-failures"]


def test_statements_from_one_address_are_limited_far_below_the_page_limit() -> None:
    """One solved CAPTCHA lasts two hours: this, not the 1,000-request limit, bounds a script's statements."""
    (rule,) = [rule for rule in _rules().values() if "ScopeDownStatement" in rule["Statement"].get(
        "RateBasedStatement", {}) and rule["Statement"]["RateBasedStatement"]["AggregateKeyType"] == "IP"]
    rate = rule["Statement"]["RateBasedStatement"]

    assert rule["Action"] == {"Block": {}}
    assert rate["AggregateKeyType"] == "IP" and rate["EvaluationWindowSec"] == 300
    assert 10 <= rate["Limit"] <= 60  # a person sends one, or a few; a script sends one per form it fetches
    assert _method_and_path({"Statement": rate["ScopeDownStatement"]}) == ("POST", "/sign/")
    captcha_on_post = next(r for r in _rules().values() if r["Name"] == "CaptchaTokenOnSubmission")
    assert rule["Priority"] > captcha_on_post["Priority"]  # counts what got past the CAPTCHA


def test_statements_sent_behind_one_solved_captcha_are_limited_whatever_address_they_come_from() -> None:
    """A script that solved one puzzle can send through many addresses: the CAPTCHA's own token is the key."""
    (rule,) = [rule for rule in _rules().values() if rule["Statement"].get(
        "RateBasedStatement", {}).get("AggregateKeyType") == "CUSTOM_KEYS"]
    rate = rule["Statement"]["RateBasedStatement"]

    assert rule["Action"] == {"Block": {}}
    assert rate["CustomKeys"] == [{"Cookie": {"Name": "aws-waf-token",
                                              "TextTransformations": [{"Priority": 0, "Type": "NONE"}]}}]
    assert rate["EvaluationWindowSec"] == 300 and 10 <= rate["Limit"] <= 30
    assert _method_and_path({"Statement": rate["ScopeDownStatement"]}) == ("POST", "/sign/")
    captcha_on_post = next(r for r in _rules().values() if r["Name"] == "CaptchaTokenOnSubmission")
    assert rule["Priority"] > captcha_on_post["Priority"]  # only submissions that carry a valid token
