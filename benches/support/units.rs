//! The resources of the synthetic preview's units: the service unit (IAM, data, compute) and
//! the team unit, each resource with its inputs before and after a change and its extra outputs.
//! Policies are JSON strings, as AWS classic stores them. Owns no ops and no step layout (that is
//! `synthetic.rs`); pure.

use serde_json::{Map, Value, json};

use super::{ACCOUNT, REGION, Res, Rng, urn};

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn text(policy: &Value) -> Value {
    Value::String(policy.to_string())
}

fn doc(statements: Vec<Value>) -> Value {
    json!({"Version": "2012-10-17", "Statement": statements})
}

const SERVICES: [&str; 4] = [
    "lambda.amazonaws.com",
    "ecs-tasks.amazonaws.com",
    "ec2.amazonaws.com",
    "states.amazonaws.com",
];
const MANAGED: [&str; 4] = [
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy",
    "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
    "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess",
];
/// Statements a widened policy may gain (privilege escalation, wildcards, exfiltration).
const RISKY: [(&[&str], &str); 6] = [
    (
        &[
            "iam:PassRole",
            "lambda:CreateFunction",
            "lambda:InvokeFunction",
        ],
        "*",
    ),
    (&["s3:*"], "*"),
    (&["iam:CreatePolicyVersion"], "*"),
    (&["ec2:*", "iam:PassRole"], "*"),
    (&["*"], "*"),
    (&["secretsmanager:GetSecretValue", "kms:Decrypt"], "*"),
];

fn trust(rng: &mut Rng) -> Value {
    let roll = rng.below(100);
    let statement = if roll < 94 {
        json!({"Effect": "Allow", "Principal": {"Service": rng.pick(&SERVICES)}, "Action": "sts:AssumeRole"})
    } else if roll < 97 {
        json!({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999988887777:root"}, "Action": "sts:AssumeRole"})
    } else {
        json!({"Effect": "Allow",
            "Principal": {"Federated": format!("arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com")},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}}})
    };
    doc(vec![statement])
}

/// The permissions of unit `u`: specific actions on the unit's own resources.
fn access(u: usize, rng: &mut Rng) -> Vec<Value> {
    let mut out = vec![
        json!({"Sid": "Data", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
        "Resource": format!("arn:aws:s3:::svc-{u}-data/*")}),
    ];
    if rng.chance(70) {
        out.push(json!({"Effect": "Allow", "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
            "Resource": format!("arn:aws:sqs:{REGION}:{ACCOUNT}:svc-{u}-jobs")}));
    }
    if rng.chance(50) {
        out.push(json!({"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"],
            "Resource": format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/svc-{u}"),
            "Condition": {"Bool": {"aws:SecureTransport": "true"}}}));
    }
    if rng.chance(5) {
        let (actions, resource) = rng.pick(&RISKY);
        out.push(json!({"Effect": "Allow", "Action": actions, "Resource": resource}));
    }
    out
}

/// `statements` with one more: usually benign, sometimes risky.
fn widened(mut statements: Vec<Value>, u: usize, rng: &mut Rng) -> Vec<Value> {
    if rng.chance(20) {
        let (actions, resource) = rng.pick(&RISKY);
        statements.push(json!({"Effect": "Allow", "Action": actions, "Resource": resource}));
    } else {
        statements.push(
            json!({"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": format!("arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/svc/{u}:*")}),
        );
    }
    statements
}

fn tags(u: usize, extra: usize) -> Value {
    json!({"team": format!("team-{}", u % 17), "service": format!("svc-{u}"), "env": "prod",
        "cost-center": format!("cc-{}", 1000 + u % 97), "revision": format!("r{extra}")})
}

fn res(type_: &'static str, name: String, old: Value, new: Option<Value>, outputs: Value) -> Res {
    let old = object(old);
    let new = new.map(object).unwrap_or_else(|| old.clone());
    Res {
        type_,
        name,
        old,
        new,
        outputs: object(outputs),
        deps: Vec::new(),
        replaceable: false,
    }
}

/// The IAM side of a service unit: role, inline policy, standalone policy, two attachments.
pub(super) fn service_iam(u: usize, rng: &mut Rng, out: &mut Vec<Res>) {
    let role = format!("svc-{u}-role");
    let role_arn = format!("arn:aws:iam::{ACCOUNT}:role/{role}");
    let mut r = res(
        "aws:iam/role:Role",
        role.clone(),
        json!({"__defaults": [], "name": role, "path": "/", "assumeRolePolicy": text(&trust(rng)), "maxSessionDuration": 3600}),
        None,
        json!({"arn": role_arn, "id": role, "uniqueId": format!("AROA{}", rng.hex(17).to_uppercase()),
            "inlinePolicies": [], "managedPolicyArns": [], "permissionsBoundary": ""}),
    );
    r.replaceable = true;
    out.push(r);

    let inline = access(u, rng);
    let wider = widened(inline.clone(), u, rng);
    let mut p = res(
        "aws:iam/rolePolicy:RolePolicy",
        format!("svc-{u}-inline"),
        json!({"__defaults": [], "name": "inline", "role": role, "policy": text(&doc(inline))}),
        Some(
            json!({"__defaults": [], "name": "inline", "role": role, "policy": text(&doc(wider))}),
        ),
        json!({"id": format!("{role}:inline")}),
    );
    p.deps.push(("role", urn("aws:iam/role:Role", &role)));
    out.push(p);

    let policy = format!("svc-{u}-access");
    let policy_arn = format!("arn:aws:iam::{ACCOUNT}:policy/{policy}");
    let statements = vec![
        json!({"Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
        "Resource": format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/{}", rng.hex(32))}),
    ];
    let wider = widened(statements.clone(), u, rng);
    out.push(res("aws:iam/policy:Policy", policy.clone(),
        json!({"__defaults": ["name"], "name": policy, "path": "/", "policy": text(&doc(statements))}),
        Some(json!({"__defaults": ["name"], "name": policy, "path": "/", "policy": text(&doc(wider))})),
        json!({"arn": policy_arn, "id": policy_arn, "policyId": format!("ANPA{}", rng.hex(17).to_uppercase())})));

    let mut a = res(
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        format!("svc-{u}-access-attach"),
        json!({"__defaults": [], "role": role, "policyArn": policy_arn}),
        None,
        json!({"id": format!("{role}-{}", rng.hex(12))}),
    );
    a.deps = vec![
        ("policyArn", urn("aws:iam/policy:Policy", &policy)),
        ("role", urn("aws:iam/role:Role", &role)),
    ];
    out.push(a);
    let mut m = res(
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        format!("svc-{u}-managed"),
        json!({"__defaults": [], "role": role, "policyArn": rng.pick(&MANAGED)}),
        None,
        json!({"id": format!("{role}-{}", rng.hex(12))}),
    );
    m.deps = vec![("role", urn("aws:iam/role:Role", &role))];
    out.push(m);
}

/// Buckets, queues and their resource policies.
pub(super) fn service_data(u: usize, rng: &mut Rng, out: &mut Vec<Res>) {
    let bucket = format!("svc-{u}-data");
    let role_arn = format!("arn:aws:iam::{ACCOUNT}:role/svc-{u}-role");
    out.push(res("aws:s3/bucketV2:BucketV2", bucket.clone(),
        json!({"__defaults": [], "bucket": bucket, "forceDestroy": false, "tags": tags(u, 0)}),
        Some(json!({"__defaults": [], "bucket": bucket, "forceDestroy": false, "tags": tags(u, 1)})),
        json!({"arn": format!("arn:aws:s3:::{bucket}"), "id": bucket, "bucketDomainName": format!("{bucket}.s3.amazonaws.com"),
            "hostedZoneId": "Z3AQBSTGFYJSTF", "region": REGION, "tagsAll": tags(u, 0)})));
    let deny = json!({"Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}});
    let allow = json!({"Effect": "Allow", "Principal": {"AWS": role_arn}, "Action": ["s3:GetObject", "s3:PutObject"],
        "Resource": format!("arn:aws:s3:::{bucket}/*")});
    let public = json!({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{bucket}/*")});
    let new = if rng.chance(15) {
        vec![allow.clone(), public]
    } else {
        vec![deny.clone(), allow.clone(), public]
    };
    let mut bp = res(
        "aws:s3/bucketPolicy:BucketPolicy",
        format!("{bucket}-policy"),
        json!({"__defaults": [], "bucket": bucket, "policy": text(&doc(vec![deny, allow]))}),
        Some(json!({"__defaults": [], "bucket": bucket, "policy": text(&doc(new))})),
        json!({"id": bucket}),
    );
    bp.deps
        .push(("bucket", urn("aws:s3/bucketV2:BucketV2", &bucket)));
    out.push(bp);

    let queue = format!("svc-{u}-jobs");
    let queue_url = format!("https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{queue}");
    let queue_arn = format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}");
    out.push(res("aws:sqs/queue:Queue", queue.clone(),
        json!({"__defaults": [], "name": queue, "visibilityTimeoutSeconds": 60, "messageRetentionSeconds": 345600,
            "receiveWaitTimeSeconds": 20, "sqsManagedSseEnabled": true, "tags": tags(u, 0)}),
        Some(json!({"__defaults": [], "name": queue, "visibilityTimeoutSeconds": 120, "messageRetentionSeconds": 345600,
            "receiveWaitTimeSeconds": 20, "sqsManagedSseEnabled": true, "tags": tags(u, 0)})),
        json!({"arn": queue_arn, "id": queue_url, "url": queue_url, "tagsAll": tags(u, 0)})));
    let from_sns = json!({"Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage",
        "Resource": queue_arn, "Condition": {"ArnEquals": {"aws:SourceArn": format!("arn:aws:sns:{REGION}:{ACCOUNT}:events")}}});
    let external = json!({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999988887777:root"},
        "Action": ["sqs:SendMessage", "sqs:ReceiveMessage"], "Resource": queue_arn});
    let mut qp = res(
        "aws:sqs/queuePolicy:QueuePolicy",
        format!("{queue}-policy"),
        json!({"__defaults": [], "queueUrl": queue_url, "policy": text(&doc(vec![from_sns.clone()]))}),
        Some(
            json!({"__defaults": [], "queueUrl": queue_url, "policy": text(&doc(vec![from_sns, external]))}),
        ),
        json!({"id": queue_url}),
    );
    qp.deps
        .push(("queueUrl", urn("aws:sqs/queue:Queue", &queue)));
    out.push(qp);
}

/// Compute (big-ish inputs), the function's permission, the key, logs and network.
pub(super) fn service_compute(u: usize, rng: &mut Rng, out: &mut Vec<Res>) {
    let function = format!("svc-{u}-handler");
    let role_arn = format!("arn:aws:iam::{ACCOUNT}:role/svc-{u}-role");
    let hash = rng.hex(64);
    let lambda = |revision: usize| {
        json!({"__defaults": ["name"], "name": format!("{function}-{}", &hash[..7]), "role": role_arn,
            "runtime": "nodejs20.x", "handler": "index.handler", "memorySize": 512, "timeout": 30,
            "architectures": ["arm64"],
            "code": {"4dabf18193072939515e22adb298388d": "0def7320c3a5731c473e5ecbe6d01bc7", "hash": hash, "path": format!("./dist/svc-{u}")},
            "environment": {"variables": {"TABLE": format!("svc-{u}"), "QUEUE_URL": format!("https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/svc-{u}-jobs"),
                "BUCKET": format!("svc-{u}-data"), "LOG_LEVEL": "info", "REVISION": format!("{revision}")}},
            "tracingConfig": {"mode": "Active"}, "tags": tags(u, 0)})
    };
    let function_arn = format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function}");
    out.push(res("aws:lambda/function:Function", function.clone(), lambda(0), Some(lambda(1)),
        json!({"arn": function_arn, "id": function, "invokeArn": format!("arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{function_arn}/invocations"),
            "lastModified": "2025-01-14T09:12:44.000+0000", "sourceCodeSize": 1_048_576 + u, "version": "$LATEST"})));
    let principal = if rng.chance(4) {
        "*"
    } else {
        "s3.amazonaws.com"
    };
    let mut perm = res(
        "aws:lambda/permission:Permission",
        format!("svc-{u}-invoke"),
        json!({"__defaults": [], "action": "lambda:InvokeFunction", "function": function, "principal": "s3.amazonaws.com",
            "sourceArn": format!("arn:aws:s3:::svc-{u}-data")}),
        Some(
            json!({"__defaults": [], "action": "lambda:InvokeFunction", "function": function, "principal": principal}),
        ),
        json!({"id": format!("svc-{u}-invoke-{}", rng.hex(8))}),
    );
    perm.deps
        .push(("function", urn("aws:lambda/function:Function", &function)));
    out.push(perm);

    let instance_type = |big: bool| if big { "m6i.large" } else { "t3.medium" };
    let instance = |big: bool| {
        json!({"__defaults": [], "ami": "ami-0c02fb55956c7d316", "instanceType": instance_type(big),
            "iamInstanceProfile": format!("svc-{u}-profile"), "subnetId": "subnet-0a1b2c3d", "tags": tags(u, 0),
            "userData": format!("#!/bin/bash\nset -euo pipefail\nexport SERVICE=svc-{u}\n/opt/app/bin/start --queue svc-{u}-jobs\n"),
            "rootBlockDevice": {"volumeSize": 30, "volumeType": "gp3", "encrypted": true}})
    };
    out.push(res("aws:ec2/instance:Instance", format!("svc-{u}-worker"), instance(false), Some(instance(true)),
        json!({"id": format!("i-{}", rng.hex(17)), "arn": format!("arn:aws:ec2:{REGION}:{ACCOUNT}:instance/i-{u:017x}"),
            "privateIp": format!("10.{}.{}.{}", u % 250, (u / 250) % 250, 10 + u % 200), "instanceState": "running"})));

    let root = json!({"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")},
        "Action": "kms:*", "Resource": "*"});
    let usage = json!({"Effect": "Allow", "Principal": {"AWS": role_arn}, "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": "*"});
    let key_arn = format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/{}", rng.hex(32));
    out.push(res("aws:kms/key:Key", format!("svc-{u}-key"),
        json!({"__defaults": [], "description": format!("svc-{u} data"), "enableKeyRotation": true, "policy": text(&doc(vec![root.clone()]))}),
        Some(json!({"__defaults": [], "description": format!("svc-{u} data"), "enableKeyRotation": true, "policy": text(&doc(vec![root, usage]))})),
        json!({"arn": key_arn, "keyId": key_arn.rsplit('/').next().unwrap_or_default()})));

    out.push(res("aws:cloudwatch/logGroup:LogGroup", format!("svc-{u}-logs"),
        json!({"__defaults": [], "name": format!("/aws/lambda/{function}"), "retentionInDays": 14}),
        Some(json!({"__defaults": [], "name": format!("/aws/lambda/{function}"), "retentionInDays": 30})),
        json!({"arn": format!("arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/{function}")})));
    let rule = |port: u16| json!({"protocol": "tcp", "fromPort": port, "toPort": port, "cidrBlocks": ["10.0.0.0/16"]});
    out.push(res("aws:ec2/securityGroup:SecurityGroup", format!("svc-{u}-sg"),
        json!({"__defaults": [], "vpcId": "vpc-0a1b2c3d", "ingress": [rule(443)], "egress": [rule(443)], "tags": tags(u, 0)}),
        Some(json!({"__defaults": [], "vpcId": "vpc-0a1b2c3d", "ingress": [rule(443), rule(8443)], "egress": [rule(443)], "tags": tags(u, 0)})),
        json!({"id": format!("sg-{}", rng.hex(17))})));
}

/// A group with an inline policy, two users in it, a managed attachment and an access key.
pub(super) fn team(u: usize, rng: &mut Rng, out: &mut Vec<Res>) {
    let group = format!("team-{u}");
    let read = vec![
        json!({"Effect": "Allow", "Action": ["cloudwatch:GetMetricData", "logs:FilterLogEvents"], "Resource": "*"}),
    ];
    let wider = widened(read.clone(), u, rng);
    out.push(res(
        "aws:iam/group:Group",
        group.clone(),
        json!({"__defaults": [], "name": group, "path": "/"}),
        None,
        json!({"arn": format!("arn:aws:iam::{ACCOUNT}:group/{group}"), "id": group}),
    ));
    let mut gp = res(
        "aws:iam/groupPolicy:GroupPolicy",
        format!("{group}-ops"),
        json!({"__defaults": [], "group": group, "name": "ops", "policy": text(&doc(read))}),
        Some(json!({"__defaults": [], "group": group, "name": "ops", "policy": text(&doc(wider))})),
        json!({"id": format!("{group}:ops")}),
    );
    gp.deps.push(("group", urn("aws:iam/group:Group", &group)));
    out.push(gp);
    let users: Vec<String> = (0..2).map(|i| format!("user-{u}-{i}")).collect();
    for user in &users {
        out.push(res("aws:iam/user:User", user.clone(), json!({"__defaults": [], "name": user, "path": "/"}), None,
            json!({"arn": format!("arn:aws:iam::{ACCOUNT}:user/{user}"), "id": user, "uniqueId": format!("AIDA{}", rng.hex(17).to_uppercase())})));
    }
    out.push(res(
        "aws:iam/userGroupMembership:UserGroupMembership",
        format!("{}-groups", users[0]),
        json!({"__defaults": [], "user": users[0], "groups": [group]}),
        None,
        json!({"id": format!("terraform-{}", rng.hex(26))}),
    ));
    let managed = if rng.chance(10) {
        "arn:aws:iam::aws:policy/AdministratorAccess"
    } else {
        "arn:aws:iam::aws:policy/ReadOnlyAccess"
    };
    out.push(res("aws:iam/userPolicyAttachment:UserPolicyAttachment", format!("{}-read", users[1]),
        json!({"__defaults": [], "user": users[1], "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}),
        Some(json!({"__defaults": [], "user": users[1], "policyArn": managed})), json!({"id": format!("{}-{}", users[1], rng.hex(12))})));
    out.push(res("aws:iam/accessKey:AccessKey", format!("{}-key", users[1]),
        json!({"__defaults": [], "user": users[1], "status": "Active"}), None,
        json!({"id": format!("AKIA{}", rng.hex(16).to_uppercase()), "secret": {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "plaintext": "\"[secret]\""}})));
}
