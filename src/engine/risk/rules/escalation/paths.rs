//! The privilege-escalation paths (catalog §2.2: the 31 BishopFox iam-vulnerable paths;
//! §2.3: further combinations from Rhino, cloudsplaining and PMapper) as data: each rule with
//! the core actions that must all be allowed to the same principal.

use crate::engine::risk::{Category, Rule, Severity};

/// A path: its catalog entry and how it is matched.
#[derive(Debug, Clone, Copy)]
pub struct Path {
    pub rule: Rule,
    /// Alternative ways to take the path; a way is a list of steps, and a step is satisfied by
    /// any one of its actions. The path fires when every step of one way is allowed.
    pub ways: &'static [&'static [&'static [&'static str]]],
    /// AWS-PE-030: also needs a role in the state that trusts a whole account.
    pub needs_trusting_role: bool,
    /// For a path through `iam:PassRole`: the service principals the role is passed to (each
    /// also in its `.cn` form), which an `iam:PassedToService` condition must admit for the
    /// step to count (IAM User Guide, "IAM and AWS STS condition context keys",
    /// `iam:PassedToService`). Empty for the other paths.
    pub passes_to: &'static [&'static str],
}

/// A minimal identity policy allowing the listed actions on `*`.
macro_rules! example {
    ($first:literal $(, $rest:literal)*) => {
        concat!(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":[""#,
            $first, "\"" $(, ",\"", $rest, "\"")*,
            r#"],"Resource":"*"}]}"#
        )
    };
}

macro_rules! path {
    ($id:literal, $title:literal, $rationale:literal, $remediation:expr, $example:expr, $ways:expr) => {
        path!($id, $title, $rationale, $remediation, $example, $ways, passes_to: [])
    };
    ($id:literal, $title:literal, $rationale:literal, $remediation:expr, $example:expr, $ways:expr, passes_to: [$($service:literal),*]) => {
        Path {
            rule: Rule {
                id: $id,
                category: Category::PrivilegeEscalation,
                severity: Severity::Critical,
                title: $title,
                rationale: $rationale,
                example: $example,
                remediation: $remediation,
            },
            ways: $ways,
            needs_trusting_role: false,
            passes_to: &[$($service),*],
        }
    };
}

const PASS_ROLE_FIX: &str = "Scope `iam:PassRole` to the role ARNs this principal must pass and add an `iam:PassedToService` condition naming only the services it passes them to (it does not close the path when it names this path's service); make sure none of those roles has more permissions than the principal itself. Scope the service actions to the principal's own resources.";
const IAM_WRITE_FIX: &str = "Remove this IAM permission from workload principals. If it is needed, pin `Resource` to the specific users, groups, roles or policies it manages (never the principal itself or an admin), and require a permissions boundary with an `iam:PermissionsBoundary` condition.";
const HIJACK_FIX: &str = "Pin `Resource` to the resources this principal owns (by ARN, or with an `aws:ResourceTag` condition), and check that the roles attached to them have no more permissions than the principal itself.";

pub const PATHS: &[Path] = &[
    path!(
        "AWS-PE-001",
        "Create access keys for other users (iam:CreateAccessKey)",
        "`iam:CreateAccessKey` on other users mints long-lived credentials for them: the principal becomes any user it can target, including administrators.",
        IAM_WRITE_FIX,
        example!("iam:CreateAccessKey"),
        &[&[&["iam:CreateAccessKey"]]]
    ),
    path!(
        "AWS-PE-002",
        "Create a console password for other users (iam:CreateLoginProfile)",
        "`iam:CreateLoginProfile` sets a console password for a user that has none, and the principal signs in as that user.",
        IAM_WRITE_FIX,
        example!("iam:CreateLoginProfile"),
        &[&[&["iam:CreateLoginProfile"]]]
    ),
    path!(
        "AWS-PE-003",
        "Change other users' console password (iam:UpdateLoginProfile)",
        "`iam:UpdateLoginProfile` resets the console password of an existing user, and the principal signs in as that user.",
        IAM_WRITE_FIX,
        example!("iam:UpdateLoginProfile"),
        &[&[&["iam:UpdateLoginProfile"]]]
    ),
    path!(
        "AWS-PE-004",
        "Pass a role to a new CloudFormation stack",
        "With `iam:PassRole` and `cloudformation:CreateStack` the principal creates a stack that runs with any role it can pass, and the stack can create anything that role may create (such as an admin user).",
        PASS_ROLE_FIX,
        example!("iam:PassRole", "cloudformation:CreateStack"),
        &[&[&["iam:PassRole"], &["cloudformation:CreateStack"]]],
        passes_to: ["cloudformation.amazonaws.com"]
    ),
    path!(
        "AWS-PE-005",
        "Pass a role to a new CodeBuild project and run it",
        "With `iam:PassRole`, `codebuild:CreateProject` and `codebuild:StartBuild` the principal runs its own build commands as any role it can pass.",
        PASS_ROLE_FIX,
        example!(
            "iam:PassRole",
            "codebuild:CreateProject",
            "codebuild:StartBuild"
        ),
        &[&[
            &["iam:PassRole"],
            &["codebuild:CreateProject"],
            &["codebuild:StartBuild", "codebuild:StartBuildBatch"]
        ]],
        passes_to: ["codebuild.amazonaws.com"]
    ),
    path!(
        "AWS-PE-006",
        "Pass a role to a new Data Pipeline",
        "With `iam:PassRole`, `datapipeline:CreatePipeline` and `datapipeline:PutPipelineDefinition` the principal defines a pipeline whose activities run shell commands as any role it can pass.",
        PASS_ROLE_FIX,
        example!(
            "iam:PassRole",
            "datapipeline:CreatePipeline",
            "datapipeline:PutPipelineDefinition"
        ),
        &[&[
            &["iam:PassRole"],
            &["datapipeline:CreatePipeline"],
            &["datapipeline:PutPipelineDefinition"]
        ]],
        passes_to: ["datapipeline.amazonaws.com", "ec2.amazonaws.com"]
    ),
    path!(
        "AWS-PE-007",
        "Pass a role to a new EC2 instance",
        "With `iam:PassRole` and `ec2:RunInstances` the principal starts an instance with any instance profile it can pass and reads the role's credentials from the instance metadata (user data runs its code at boot).",
        PASS_ROLE_FIX,
        example!("iam:PassRole", "ec2:RunInstances"),
        &[&[&["iam:PassRole"], &["ec2:RunInstances"]]],
        passes_to: ["ec2.amazonaws.com"]
    ),
    path!(
        "AWS-PE-008",
        "Pass a role to a new Glue development endpoint",
        "With `iam:PassRole` and `glue:CreateDevEndpoint` the principal creates an endpoint it can SSH into, running as any role it can pass.",
        PASS_ROLE_FIX,
        example!("iam:PassRole", "glue:CreateDevEndpoint"),
        &[&[&["iam:PassRole"], &["glue:CreateDevEndpoint"]]],
        passes_to: ["glue.amazonaws.com"]
    ),
    path!(
        "AWS-PE-009",
        "Pass a role to a new Lambda function and invoke it",
        "With `iam:PassRole`, `lambda:CreateFunction` and `lambda:InvokeFunction` the principal deploys its own code running as any role it can pass, then runs it.",
        PASS_ROLE_FIX,
        example!(
            "iam:PassRole",
            "lambda:CreateFunction",
            "lambda:InvokeFunction"
        ),
        &[&[
            &["iam:PassRole"],
            &["lambda:CreateFunction"],
            &["lambda:InvokeFunction"]
        ]],
        passes_to: ["lambda.amazonaws.com"]
    ),
    path!(
        "AWS-PE-010",
        "Pass a role to a new Lambda function and trigger it from an event source",
        "With `iam:PassRole`, `lambda:CreateFunction` and `lambda:CreateEventSourceMapping` the principal deploys its own code as any role it can pass and has a stream or queue trigger it.",
        PASS_ROLE_FIX,
        example!(
            "iam:PassRole",
            "lambda:CreateFunction",
            "lambda:CreateEventSourceMapping"
        ),
        &[&[
            &["iam:PassRole"],
            &["lambda:CreateFunction"],
            &["lambda:CreateEventSourceMapping"]
        ]],
        passes_to: ["lambda.amazonaws.com"]
    ),
    path!(
        "AWS-PE-011",
        "Pass a role to a new SageMaker notebook and open it",
        "With `iam:PassRole`, `sagemaker:CreateNotebookInstance` and `sagemaker:CreatePresignedNotebookInstanceUrl` the principal gets a Jupyter terminal running as any role it can pass.",
        PASS_ROLE_FIX,
        example!(
            "iam:PassRole",
            "sagemaker:CreateNotebookInstance",
            "sagemaker:CreatePresignedNotebookInstanceUrl"
        ),
        &[&[
            &["iam:PassRole"],
            &["sagemaker:CreateNotebookInstance"],
            &["sagemaker:CreatePresignedNotebookInstanceUrl"]
        ]],
        passes_to: ["sagemaker.amazonaws.com"]
    ),
    path!(
        "AWS-PE-012",
        "Pass a role to a new SageMaker training job",
        "With `iam:PassRole` and `sagemaker:CreateTrainingJob` the principal runs its own container as any role it can pass.",
        PASS_ROLE_FIX,
        example!("iam:PassRole", "sagemaker:CreateTrainingJob"),
        &[&[&["iam:PassRole"], &["sagemaker:CreateTrainingJob"]]],
        passes_to: ["sagemaker.amazonaws.com"]
    ),
    path!(
        "AWS-PE-013",
        "Pass a role to a new SageMaker processing job",
        "With `iam:PassRole` and `sagemaker:CreateProcessingJob` the principal runs its own container as any role it can pass.",
        PASS_ROLE_FIX,
        example!("iam:PassRole", "sagemaker:CreateProcessingJob"),
        &[&[&["iam:PassRole"], &["sagemaker:CreateProcessingJob"]]],
        passes_to: ["sagemaker.amazonaws.com"]
    ),
    path!(
        "AWS-PE-014",
        "Add users to groups (iam:AddUserToGroup)",
        "`iam:AddUserToGroup` lets the principal join any group it can target, such as an admin group, and get that group's permissions.",
        IAM_WRITE_FIX,
        example!("iam:AddUserToGroup"),
        &[&[&["iam:AddUserToGroup"]]]
    ),
    path!(
        "AWS-PE-015",
        "Attach managed policies to groups (iam:AttachGroupPolicy)",
        "`iam:AttachGroupPolicy` attaches any managed policy, such as `AdministratorAccess`, to a group the principal belongs to.",
        IAM_WRITE_FIX,
        example!("iam:AttachGroupPolicy"),
        &[&[&["iam:AttachGroupPolicy"]]]
    ),
    path!(
        "AWS-PE-016",
        "Attach managed policies to roles (iam:AttachRolePolicy)",
        "`iam:AttachRolePolicy` attaches any managed policy, such as `AdministratorAccess`, to a role the principal is or can assume.",
        IAM_WRITE_FIX,
        example!("iam:AttachRolePolicy"),
        &[&[&["iam:AttachRolePolicy"]]]
    ),
    path!(
        "AWS-PE-017",
        "Attach managed policies to users (iam:AttachUserPolicy)",
        "`iam:AttachUserPolicy` attaches any managed policy, such as `AdministratorAccess`, to the principal's own user.",
        IAM_WRITE_FIX,
        example!("iam:AttachUserPolicy"),
        &[&[&["iam:AttachUserPolicy"]]]
    ),
    path!(
        "AWS-PE-018",
        "Create a new version of a managed policy (iam:CreatePolicyVersion)",
        "`iam:CreatePolicyVersion` rewrites a customer managed policy (and can make the new version the default), so the principal grants itself anything through a policy attached to it.",
        IAM_WRITE_FIX,
        example!("iam:CreatePolicyVersion"),
        &[&[&["iam:CreatePolicyVersion"]]]
    ),
    path!(
        "AWS-PE-019",
        "Write inline policies on groups (iam:PutGroupPolicy)",
        "`iam:PutGroupPolicy` writes an inline policy with any permissions on a group the principal belongs to.",
        IAM_WRITE_FIX,
        example!("iam:PutGroupPolicy"),
        &[&[&["iam:PutGroupPolicy"]]]
    ),
    path!(
        "AWS-PE-020",
        "Write inline policies on roles (iam:PutRolePolicy)",
        "`iam:PutRolePolicy` writes an inline policy with any permissions on a role the principal is or can assume.",
        IAM_WRITE_FIX,
        example!("iam:PutRolePolicy"),
        &[&[&["iam:PutRolePolicy"]]]
    ),
    path!(
        "AWS-PE-021",
        "Write inline policies on users (iam:PutUserPolicy)",
        "`iam:PutUserPolicy` writes an inline policy with any permissions on the principal's own user.",
        IAM_WRITE_FIX,
        example!("iam:PutUserPolicy"),
        &[&[&["iam:PutUserPolicy"]]]
    ),
    path!(
        "AWS-PE-022",
        "Switch a managed policy to an older version (iam:SetDefaultPolicyVersion)",
        "`iam:SetDefaultPolicyVersion` makes any existing version of a policy the active one; an older, broader version attached to the principal becomes its permissions.",
        IAM_WRITE_FIX,
        example!("iam:SetDefaultPolicyVersion"),
        &[&[&["iam:SetDefaultPolicyVersion"]]]
    ),
    path!(
        "AWS-PE-023",
        "Push an SSH key to EC2 instances (EC2 Instance Connect)",
        "`ec2-instance-connect:SendSSHPublicKey` (or the serial-console variant) lets the principal log in to instances and use their instance profile roles.",
        HIJACK_FIX,
        example!("ec2-instance-connect:SendSSHPublicKey"),
        &[&[&[
            "ec2-instance-connect:SendSSHPublicKey",
            "ec2-instance-connect:SendSerialConsoleSSHPublicKey"
        ]]]
    ),
    path!(
        "AWS-PE-024",
        "Update existing CloudFormation stacks (cloudformation:UpdateStack)",
        "`cloudformation:UpdateStack` changes the template of a stack that runs with a service role, so the principal creates whatever that role may create.",
        HIJACK_FIX,
        example!("cloudformation:UpdateStack"),
        &[&[&["cloudformation:UpdateStack"]]]
    ),
    path!(
        "AWS-PE-025",
        "Update existing Glue development endpoints (glue:UpdateDevEndpoint)",
        "`glue:UpdateDevEndpoint` adds the principal's SSH key to an endpoint and gives it a shell running as the endpoint's role.",
        HIJACK_FIX,
        example!("glue:UpdateDevEndpoint"),
        &[&[&["glue:UpdateDevEndpoint"]]]
    ),
    path!(
        "AWS-PE-026",
        "Replace the code of existing Lambda functions (lambda:UpdateFunctionCode)",
        "`lambda:UpdateFunctionCode` replaces a function's code, which then runs as the function's role the next time it is invoked.",
        HIJACK_FIX,
        example!("lambda:UpdateFunctionCode"),
        &[&[&["lambda:UpdateFunctionCode"]]]
    ),
    path!(
        "AWS-PE-027",
        "Open existing SageMaker notebooks (CreatePresignedNotebookInstanceUrl)",
        "`sagemaker:CreatePresignedNotebookInstanceUrl` opens a running notebook's Jupyter terminal, which runs as the notebook's role.",
        HIJACK_FIX,
        example!("sagemaker:CreatePresignedNotebookInstanceUrl"),
        &[&[&["sagemaker:CreatePresignedNotebookInstanceUrl"]]]
    ),
    path!(
        "AWS-PE-028",
        "Run commands on EC2 instances (ssm:SendCommand)",
        "`ssm:SendCommand` runs shell commands on managed instances, with the permissions of their instance profile roles. It needs the instance and a document that runs the caller's commands: `AWS-RunShellScript`, `AWS-RunPowerShellScript`, `AWS-RunRemoteScript`, `AWS-RunDocument`, the Ansible, Salt, Chef and DSC documents, `AWS-InstallApplication`, `AWS-InstallPowerShellModule`, or a document of the account (its content is not known). A grant pinned to other AWS documents (such as `AWSEC2-CreateVssSnapshot`) is not this path.",
        HIJACK_FIX,
        example!("ssm:SendCommand"),
        &[&[&["ssm:SendCommand"]]]
    ),
    path!(
        "AWS-PE-029",
        "Open shell sessions on EC2 instances (ssm:StartSession)",
        "`ssm:StartSession` opens an interactive shell on managed instances, with the permissions of their instance profile roles. Without a document name it opens the default shell (`SSM-SessionManagerRunShell`) even if no statement allows that document, unless every statement allowing it requires `ssm:SessionDocumentAccessCheck`; then it needs a shell document (`SSM-SessionManagerRunShell`, `AWS-StartInteractiveCommand`, `AWS-StartNonInteractiveCommand`, port forwarding to a remote host or a socket, or a document of the account).",
        HIJACK_FIX,
        example!("ssm:StartSession"),
        &[&[&["ssm:StartSession"]]]
    ),
    Path {
        rule: Rule {
            id: "AWS-PE-030",
            category: Category::PrivilegeEscalation,
            severity: Severity::Critical,
            title: "Assume roles that trust the whole account (sts:AssumeRole)",
            rationale: "A role whose trust policy names the account root (`arn:aws:iam::<account>:root`) can be assumed by every principal of that account that has `sts:AssumeRole` on it. With `sts:AssumeRole` on `*` this principal becomes that role.",
            example: example!("sts:AssumeRole"),
            remediation: "Scope `sts:AssumeRole` to the role ARNs this principal needs, and make roles trust specific role ARNs instead of the account root.",
        },
        ways: &[&[&["sts:AssumeRole"]]],
        needs_trusting_role: true,
        passes_to: &[],
    },
    path!(
        "AWS-PE-031",
        "Rewrite a role's trust policy and assume it",
        "With `iam:UpdateAssumeRolePolicy` the principal adds itself to any role's trust policy, and `sts:AssumeRole` then becomes that role.",
        IAM_WRITE_FIX,
        example!("iam:UpdateAssumeRolePolicy", "sts:AssumeRole"),
        &[&[&["iam:UpdateAssumeRolePolicy"], &["sts:AssumeRole"]]]
    ),
    path!(
        "AWS-PE-040",
        "Pass a role to a new Lambda function and let anyone invoke it",
        "With `iam:PassRole`, `lambda:CreateFunction` and `lambda:AddPermission` the principal deploys code running as any role it can pass and grants itself (or another account) the right to invoke it.",
        PASS_ROLE_FIX,
        example!(
            "iam:PassRole",
            "lambda:CreateFunction",
            "lambda:AddPermission"
        ),
        &[&[
            &["iam:PassRole"],
            &["lambda:CreateFunction"],
            &["lambda:AddPermission"]
        ]],
        passes_to: ["lambda.amazonaws.com"]
    ),
    path!(
        "AWS-PE-041",
        "Replace a Lambda function's code and invoke it",
        "With `lambda:UpdateFunctionCode` and `lambda:InvokeFunction` (or `lambda:AddPermission` to allow itself to invoke) the principal runs its own code as the function's role on demand.",
        HIJACK_FIX,
        example!("lambda:UpdateFunctionCode", "lambda:InvokeFunction"),
        &[&[
            &["lambda:UpdateFunctionCode"],
            &["lambda:InvokeFunction", "lambda:AddPermission"]
        ]]
    ),
    path!(
        "AWS-PE-042",
        "Create and execute CloudFormation change sets",
        "With `cloudformation:CreateChangeSet` and `cloudformation:ExecuteChangeSet` the principal changes a stack's resources using the stack's service role.",
        HIJACK_FIX,
        example!(
            "cloudformation:CreateChangeSet",
            "cloudformation:ExecuteChangeSet"
        ),
        &[&[
            &["cloudformation:CreateChangeSet"],
            &["cloudformation:ExecuteChangeSet"]
        ]]
    ),
    path!(
        "AWS-PE-043",
        "Pass a role to a CloudFormation stack set",
        "With `iam:PassRole` and `cloudformation:CreateStackSet` plus `cloudformation:CreateStackInstances` (or `cloudformation:UpdateStackSet`) the principal deploys templates with any administration role it can pass.",
        PASS_ROLE_FIX,
        example!(
            "iam:PassRole",
            "cloudformation:CreateStackSet",
            "cloudformation:CreateStackInstances"
        ),
        &[
            &[
                &["iam:PassRole"],
                &["cloudformation:CreateStackSet"],
                &["cloudformation:CreateStackInstances"]
            ],
            &[&["iam:PassRole"], &["cloudformation:UpdateStackSet"]],
        ],
        passes_to: ["cloudformation.amazonaws.com"]
    ),
    path!(
        "AWS-PE-044",
        "Change an EC2 instance's user data and restart it",
        "With `ec2:ModifyInstanceAttribute`, `ec2:StopInstances` and `ec2:StartInstances` the principal replaces an instance's user data, which runs as root at the next boot with the instance's role.",
        HIJACK_FIX,
        example!(
            "ec2:ModifyInstanceAttribute",
            "ec2:StopInstances",
            "ec2:StartInstances"
        ),
        &[&[
            &["ec2:ModifyInstanceAttribute"],
            &["ec2:StopInstances"],
            &["ec2:StartInstances"]
        ]]
    ),
    path!(
        "AWS-PE-045",
        "Modify an existing EC2 launch template",
        "With `ec2:CreateLaunchTemplateVersion` and `ec2:ModifyLaunchTemplate` the principal makes new instances of an Auto Scaling group boot its own user data with the template's role.",
        HIJACK_FIX,
        example!(
            "ec2:CreateLaunchTemplateVersion",
            "ec2:ModifyLaunchTemplate"
        ),
        &[&[
            &["ec2:CreateLaunchTemplateVersion"],
            &["ec2:ModifyLaunchTemplate"]
        ]]
    ),
    path!(
        "AWS-PE-046",
        "Pass a role to a new EC2 Spot instance",
        "With `iam:PassRole` and `ec2:RequestSpotInstances` the principal starts an instance with any instance profile it can pass.",
        PASS_ROLE_FIX,
        example!("iam:PassRole", "ec2:RequestSpotInstances"),
        &[&[&["iam:PassRole"], &["ec2:RequestSpotInstances"]]],
        passes_to: ["ec2.amazonaws.com"]
    ),
    path!(
        "AWS-PE-047",
        "Attach a role to a running EC2 instance",
        "With `ec2:AssociateIamInstanceProfile` and `iam:PassRole` (or `iam:CreateInstanceProfile` with `iam:AddRoleToInstanceProfile`) the principal gives an instance it controls a more privileged role.",
        PASS_ROLE_FIX,
        example!("ec2:AssociateIamInstanceProfile", "iam:PassRole"),
        &[
            &[&["ec2:AssociateIamInstanceProfile"], &["iam:PassRole"]],
            &[
                &["iam:CreateInstanceProfile"],
                &["iam:AddRoleToInstanceProfile"]
            ],
        ],
        passes_to: ["ec2.amazonaws.com"]
    ),
    path!(
        "AWS-PE-048",
        "Pass a role to a new Auto Scaling group",
        "With `iam:PassRole`, `autoscaling:CreateLaunchConfiguration` and `autoscaling:CreateAutoScalingGroup` the principal launches instances with any instance profile it can pass.",
        PASS_ROLE_FIX,
        example!(
            "iam:PassRole",
            "autoscaling:CreateLaunchConfiguration",
            "autoscaling:CreateAutoScalingGroup"
        ),
        &[&[
            &["iam:PassRole"],
            &["autoscaling:CreateLaunchConfiguration"],
            &["autoscaling:CreateAutoScalingGroup"]
        ]],
        passes_to: ["ec2.amazonaws.com", "autoscaling.amazonaws.com"]
    ),
    path!(
        "AWS-PE-049",
        "Run commands in running ECS tasks (ecs:ExecuteCommand)",
        "`ecs:ExecuteCommand` opens a shell in a running container, with the permissions of its task role.",
        HIJACK_FIX,
        example!("ecs:ExecuteCommand"),
        &[&[&["ecs:ExecuteCommand"]]]
    ),
    path!(
        "AWS-PE-050",
        "Pass a role to a new ECS task",
        "With `iam:PassRole`, `ecs:RegisterTaskDefinition` and `ecs:RunTask`, `ecs:StartTask` or `ecs:CreateService` the principal runs its own container as any task role it can pass.",
        PASS_ROLE_FIX,
        example!("iam:PassRole", "ecs:RegisterTaskDefinition", "ecs:RunTask"),
        &[&[
            &["iam:PassRole"],
            &["ecs:RegisterTaskDefinition"],
            &["ecs:RunTask", "ecs:StartTask", "ecs:CreateService"]
        ]],
        passes_to: ["ecs-tasks.amazonaws.com"]
    ),
    path!(
        "AWS-PE-051",
        "Pass a role to a Glue job and run it",
        "With `iam:PassRole`, `glue:CreateJob` or `glue:UpdateJob`, and `glue:StartJobRun` or `glue:CreateTrigger` the principal runs its own script as any role it can pass.",
        PASS_ROLE_FIX,
        example!("iam:PassRole", "glue:CreateJob", "glue:StartJobRun"),
        &[&[
            &["iam:PassRole"],
            &["glue:CreateJob", "glue:UpdateJob"],
            &["glue:StartJobRun", "glue:CreateTrigger"]
        ]],
        passes_to: ["glue.amazonaws.com"]
    ),
    path!(
        "AWS-PE-052",
        "Change an existing CodeBuild project and run it",
        "With `codebuild:UpdateProject` and `codebuild:StartBuild` the principal replaces a project's build commands (or its role, with `iam:PassRole`) and runs them as the project's role.",
        HIJACK_FIX,
        example!("codebuild:UpdateProject", "codebuild:StartBuild"),
        &[&[
            &["codebuild:UpdateProject"],
            &["codebuild:StartBuild", "codebuild:StartBuildBatch"]
        ]]
    ),
    path!(
        "AWS-PE-053",
        "Add a lifecycle script to an existing SageMaker notebook",
        "With `sagemaker:CreateNotebookInstanceLifecycleConfig`, `sagemaker:StopNotebookInstance`, `sagemaker:UpdateNotebookInstance` and `sagemaker:StartNotebookInstance` the principal makes a notebook run its script as the notebook's role.",
        HIJACK_FIX,
        example!(
            "sagemaker:CreateNotebookInstanceLifecycleConfig",
            "sagemaker:StopNotebookInstance",
            "sagemaker:UpdateNotebookInstance",
            "sagemaker:StartNotebookInstance"
        ),
        &[&[
            &["sagemaker:CreateNotebookInstanceLifecycleConfig"],
            &["sagemaker:StopNotebookInstance"],
            &["sagemaker:UpdateNotebookInstance"],
            &["sagemaker:StartNotebookInstance"]
        ]]
    ),
    path!(
        "AWS-PE-054",
        "Pass a role to a new App Runner service",
        "With `iam:PassRole` and `apprunner:CreateService` the principal runs its own container as any instance role it can pass.",
        PASS_ROLE_FIX,
        example!("iam:PassRole", "apprunner:CreateService"),
        &[&[&["iam:PassRole"], &["apprunner:CreateService"]]],
        passes_to: ["apprunner.amazonaws.com", "tasks.apprunner.amazonaws.com", "build.apprunner.amazonaws.com"]
    ),
    path!(
        "AWS-PE-055",
        "Run code in a Bedrock AgentCore code interpreter",
        "With `iam:PassRole`, `bedrock-agentcore:CreateCodeInterpreter`, `bedrock-agentcore:StartCodeInterpreterSession` and `bedrock-agentcore:InvokeCodeInterpreter` the principal runs code as any role it can pass; the last two alone run code as an existing interpreter's role.",
        PASS_ROLE_FIX,
        example!(
            "iam:PassRole",
            "bedrock-agentcore:CreateCodeInterpreter",
            "bedrock-agentcore:StartCodeInterpreterSession",
            "bedrock-agentcore:InvokeCodeInterpreter"
        ),
        &[
            &[
                &["iam:PassRole"],
                &["bedrock-agentcore:CreateCodeInterpreter"],
                &["bedrock-agentcore:StartCodeInterpreterSession"],
                &["bedrock-agentcore:InvokeCodeInterpreter"]
            ],
            &[
                &["bedrock-agentcore:StartCodeInterpreterSession"],
                &["bedrock-agentcore:InvokeCodeInterpreter"]
            ],
        ],
        passes_to: ["bedrock-agentcore.amazonaws.com"]
    ),
    path!(
        "AWS-PE-056",
        "Create a CodeStar project with a role (CodeStar)",
        "CodeStar (retired, still present in old stacks) creates projects through a service role that can create IAM resources: `codestar:CreateProject` with `iam:PassRole`, `codestar:CreateProjectFromTemplate`, or `codestar:CreateProject` with `codestar:AssociateTeamMember` escalate to it.",
        PASS_ROLE_FIX,
        example!("codestar:CreateProject", "iam:PassRole"),
        &[
            &[&["codestar:CreateProject"], &["iam:PassRole"]],
            &[&["codestar:CreateProjectFromTemplate"]],
            &[
                &["codestar:CreateProject"],
                &["codestar:AssociateTeamMember"]
            ],
        ],
        passes_to: ["codestar.amazonaws.com"]
    ),
    path!(
        "AWS-PE-057",
        "Two-step IAM credential and policy chains",
        "Pairs of IAM actions that together take over another identity: `iam:CreateAccessKey` with `iam:DeleteAccessKey` (make room for a new key), `iam:AttachUserPolicy`/`iam:PutUserPolicy` with `iam:CreateAccessKey`, `iam:CreatePolicyVersion` with `sts:AssumeRole`, or a role-policy change with `iam:UpdateAssumeRolePolicy`.",
        IAM_WRITE_FIX,
        example!("iam:CreateAccessKey", "iam:DeleteAccessKey"),
        &[
            &[&["iam:CreateAccessKey"], &["iam:DeleteAccessKey"]],
            &[
                &["iam:AttachUserPolicy", "iam:PutUserPolicy"],
                &["iam:CreateAccessKey"]
            ],
            &[&["iam:CreatePolicyVersion"], &["sts:AssumeRole"]],
            &[
                &[
                    "iam:AttachRolePolicy",
                    "iam:PutRolePolicy",
                    "iam:CreatePolicyVersion"
                ],
                &["iam:UpdateAssumeRolePolicy"]
            ],
        ]
    ),
    path!(
        "AWS-PE-058",
        "Create a role and give it any permissions",
        "With `iam:CreateRole` and `iam:AttachRolePolicy` or `iam:PutRolePolicy` the principal creates a role it trusts and grants it administrator access: an administrator in all but name.",
        IAM_WRITE_FIX,
        example!("iam:CreateRole", "iam:AttachRolePolicy"),
        &[&[
            &["iam:CreateRole"],
            &["iam:AttachRolePolicy", "iam:PutRolePolicy"]
        ]]
    ),
    path!(
        "AWS-PE-059",
        "Grant itself EKS cluster admin through access entries",
        "With `eks:CreateAccessEntry` and `eks:AssociateAccessPolicy` the principal maps itself into a cluster and associates `AmazonEKSClusterAdminPolicy`, taking over every workload and their IAM roles.",
        HIJACK_FIX,
        example!("eks:CreateAccessEntry", "eks:AssociateAccessPolicy"),
        &[&[&["eks:CreateAccessEntry"], &["eks:AssociateAccessPolicy"]]]
    ),
    path!(
        "AWS-PE-060",
        "Assume root in member accounts (sts:AssumeRoot)",
        "`sts:AssumeRoot` (centralized root access from the management or delegated administrator account) gets short-term root credentials for a member account.",
        "Remove `sts:AssumeRoot` except from a dedicated break-glass role, and restrict it to the task policies it needs with an `sts:TaskPolicyArn` condition.",
        example!("sts:AssumeRoot"),
        &[&[&["sts:AssumeRoot"]]]
    ),
];

const COUNT: usize = PATHS.len();

const RULE_ARRAY: [Rule; COUNT] = {
    let mut out = [PATHS[0].rule; COUNT];
    let mut i = 0;
    while i < COUNT {
        out[i] = PATHS[i].rule;
        i += 1;
    }
    out
};

/// The family's entries, in catalog order.
pub const RULES: &[Rule] = &RULE_ARRAY;
