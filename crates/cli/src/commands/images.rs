//! Image commands: `images`/`image ls`, `rmi`, `tag`, `history`, `image prune`.

use berth_api::image::ImageSummary;
use berth_client::Client;
use berth_client::images::ListImages;
use clap::Args;
use gtmpl_value::Value;

use crate::commands::lifecycle::confirm;
use crate::commands::names::{ellipsis, short_id, split_tag};
use crate::exit::{CmdResult, StatusError, describe};
use crate::opts::filter::parse_filters;
use crate::output::humanize::{human_size, human_size_precision, time_ago};
use crate::output::template::{Formatter, object};

/// `berth images`.
#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// Show all images (default hides intermediate images).
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Only show image IDs.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Don't truncate output.
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Show digests.
    #[arg(long)]
    pub digests: bool,
    /// Filter output based on conditions provided.
    #[arg(short = 'f', long = "filter")]
    pub filters: Vec<String>,
    /// Format output using a custom template.
    #[arg(long)]
    pub format: Option<String>,
    /// Repository to list (`name[:tag]`).
    pub repository: Option<String>,
}

/// `berth rmi`.
#[derive(Debug, Args)]
pub struct RmiArgs {
    /// Force removal of the image.
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Do not delete untagged parents.
    #[arg(long = "no-prune")]
    pub no_prune: bool,
    /// Images.
    #[arg(required = true)]
    pub images: Vec<String>,
}

/// `berth tag`.
#[derive(Debug, Args)]
pub struct TagArgs {
    /// Source image.
    pub source: String,
    /// Target `name[:tag]`.
    pub target: String,
}

/// `berth history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Print sizes and dates in human readable format.
    #[arg(short = 'H', long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub human: bool,
    /// Don't truncate output.
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Only show image IDs.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Format output using a custom template.
    #[arg(long)]
    pub format: Option<String>,
    /// Image.
    pub image: String,
}

/// `berth image prune`.
#[derive(Debug, Args)]
pub struct ImagePruneArgs {
    /// Remove all unused images, not just dangling ones.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Do not prompt for confirmation.
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Provide filter values (e.g. "until=<timestamp>").
    #[arg(long = "filter")]
    pub filters: Vec<String>,
}

/// The default `docker images` table.
pub const DEFAULT_FORMAT: &str =
    "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}";
const DIGEST_FORMAT: &str =
    "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}";

/// `N/A` when the daemon did not compute shared sizes (-1), else the size of `value`.
fn shared_or_na(shared: i64, value: i64) -> String {
    if shared == -1 {
        "N/A".to_string()
    } else {
        human_size_precision(value as f64, 3)
    }
}

fn image_row(
    img: &ImageSummary,
    repo: &str,
    tag: &str,
    digest: &str,
    trunc: bool,
    now: i64,
) -> Value {
    let id = if trunc {
        short_id(&img.id)
    } else {
        img.id.clone()
    };
    let created = chrono::DateTime::from_timestamp(img.created, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S +0000 UTC").to_string())
        .unwrap_or_default();
    object(vec![
        ("ID", Value::from(id)),
        ("Repository", Value::from(repo.to_string())),
        ("Tag", Value::from(tag.to_string())),
        ("Digest", Value::from(digest.to_string())),
        ("CreatedSince", Value::from(time_ago(img.created, now))),
        ("CreatedAt", Value::from(created)),
        (
            "Size",
            Value::from(human_size_precision(img.size as f64, 3)),
        ),
        (
            "SharedSize",
            Value::from(shared_or_na(img.shared_size, img.shared_size)),
        ),
        (
            "UniqueSize",
            Value::from(shared_or_na(img.shared_size, img.size - img.shared_size)),
        ),
        ("VirtualSize", Value::from(human_size(img.size as f64))),
        ("Containers", Value::from(img.containers.to_string())),
    ])
}

fn images_header() -> Value {
    object(vec![
        ("ID", Value::from("IMAGE ID")),
        ("Repository", Value::from("REPOSITORY")),
        ("Tag", Value::from("TAG")),
        ("Digest", Value::from("DIGEST")),
        ("CreatedSince", Value::from("CREATED")),
        ("CreatedAt", Value::from("CREATED AT")),
        ("Size", Value::from("SIZE")),
        ("SharedSize", Value::from("SHARED SIZE")),
        ("UniqueSize", Value::from("UNIQUE SIZE")),
        ("VirtualSize", Value::from("VIRTUAL SIZE")),
        ("Containers", Value::from("CONTAINERS")),
    ])
}

/// One row per tag (or a `<none>` row for untagged images), as `docker images` lists them.
pub fn image_rows(images: &[ImageSummary], trunc: bool, now: i64) -> Vec<Value> {
    let mut rows = Vec::new();
    for img in images {
        let digest_of = |repo: &str| {
            img.repo_digests
                .iter()
                .find_map(|d| {
                    d.split_once('@')
                        .filter(|(r, _)| *r == repo)
                        .map(|(_, d)| d.to_string())
                })
                .unwrap_or_else(|| "<none>".to_string())
        };
        let tags: Vec<&String> = img
            .repo_tags
            .iter()
            .filter(|t| t.as_str() != "<none>:<none>")
            .collect();
        if tags.is_empty() {
            let repo_digest = img.repo_digests.first().and_then(|d| d.split_once('@'));
            let (repo, digest) = repo_digest.map_or(("<none>", "<none>"), |(r, d)| (r, d));
            rows.push(image_row(img, repo, "<none>", digest, trunc, now));
            continue;
        }
        for t in tags {
            let (repo, tag) = split_tag(t);
            rows.push(image_row(
                img,
                repo,
                tag.unwrap_or("<none>"),
                &digest_of(repo),
                trunc,
                now,
            ));
        }
    }
    rows
}

/// `berth images`.
pub async fn images(client: &Client, args: ImagesArgs) -> CmdResult {
    let mut filters = parse_filters(&args.filters).map_err(|e| StatusError::new(125, e))?;
    if let Some(r) = &args.repository {
        filters
            .entry("reference".to_string())
            .or_default()
            .push(r.clone());
    }
    let list = client
        .list_images(&ListImages {
            all: args.all,
            digests: args.digests,
            filters,
        })
        .await?;
    if args.quiet && args.format.is_none() {
        let mut seen = std::collections::HashSet::new();
        for img in &list {
            let id = if args.no_trunc {
                img.id.clone()
            } else {
                short_id(&img.id)
            };
            if seen.insert(id.clone()) {
                println!("{id}");
            }
        }
        return Ok(0);
    }
    let format = match args.format.as_deref() {
        None | Some("table") if args.digests => DIGEST_FORMAT,
        None | Some("table") => DEFAULT_FORMAT,
        Some("json") => "{{json .}}",
        Some(f) => f,
    };
    let formatter = Formatter::new(format).map_err(|e| StatusError::new(125, e.to_string()))?;
    let rows = image_rows(&list, !args.no_trunc, chrono::Utc::now().timestamp());
    print!("{}", formatter.render_rows(Some(&images_header()), &rows)?);
    Ok(0)
}

/// `berth rmi`.
pub async fn rmi(client: &Client, args: RmiArgs) -> CmdResult {
    let mut failed = false;
    for name in &args.images {
        match client.remove_image(name, args.force, args.no_prune).await {
            Ok(items) => {
                for item in items {
                    if let Some(u) = item.untagged {
                        println!("Untagged: {u}");
                    }
                    if let Some(d) = item.deleted {
                        println!("Deleted: {d}");
                    }
                }
            }
            Err(e) => {
                failed = true;
                eprintln!("{}", describe(&e));
            }
        }
    }
    Ok(i32::from(failed))
}

/// `berth tag`.
pub async fn tag(client: &Client, args: TagArgs) -> CmdResult {
    let (repo, tag) = split_tag(&args.target);
    client
        .tag_image(&args.source, repo, Some(tag.unwrap_or("latest")))
        .await?;
    Ok(0)
}

/// `berth history`.
pub async fn history(client: &Client, args: HistoryArgs) -> CmdResult {
    let items = client.image_history(&args.image).await?;
    let now = chrono::Utc::now().timestamp();
    let trunc = !args.no_trunc;
    if args.quiet {
        for h in &items {
            println!(
                "{}",
                if trunc && h.id != "<missing>" {
                    short_id(&h.id)
                } else {
                    h.id.clone()
                }
            );
        }
        return Ok(0);
    }
    let format = args
        .format
        .as_deref()
        .unwrap_or("table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}");
    let formatter = Formatter::new(format).map_err(|e| StatusError::new(125, e.to_string()))?;
    let rows: Vec<Value> = items
        .iter()
        .map(|h| {
            let id = if trunc && h.id != "<missing>" {
                short_id(&h.id)
            } else {
                h.id.clone()
            };
            let created_by = h.created_by.replace('\t', " ");
            object(vec![
                ("ID", Value::from(id)),
                (
                    "CreatedSince",
                    Value::from(if args.human {
                        time_ago(h.created, now)
                    } else {
                        h.created.to_string()
                    }),
                ),
                (
                    "CreatedBy",
                    Value::from(if trunc {
                        ellipsis(&created_by, 45)
                    } else {
                        created_by
                    }),
                ),
                (
                    "Size",
                    Value::from(if args.human {
                        human_size_precision(h.size as f64, 3)
                    } else {
                        h.size.to_string()
                    }),
                ),
                ("Comment", Value::from(h.comment.clone())),
            ])
        })
        .collect();
    let header = object(vec![
        ("ID", Value::from("IMAGE")),
        ("CreatedSince", Value::from("CREATED")),
        ("CreatedBy", Value::from("CREATED BY")),
        ("Size", Value::from("SIZE")),
        ("Comment", Value::from("COMMENT")),
    ]);
    print!("{}", formatter.render_rows(Some(&header), &rows)?);
    Ok(0)
}

/// `berth image prune`.
pub async fn prune(client: &Client, args: ImagePruneArgs) -> CmdResult {
    let mut filters = parse_filters(&args.filters).map_err(|e| StatusError::new(125, e))?;
    let warning = if args.all {
        "WARNING! This will remove all images without at least one container associated to them."
    } else {
        filters.insert("dangling".to_string(), vec!["true".to_string()]);
        "WARNING! This will remove all dangling images."
    };
    if args.all {
        filters.insert("dangling".to_string(), vec!["false".to_string()]);
    }
    if !args.force && !confirm(warning) {
        return Ok(0);
    }
    let report = client.prune_images(&filters).await?;
    if !report.images_deleted.is_empty() {
        println!("Deleted Images:");
        for item in &report.images_deleted {
            if let Some(u) = &item.untagged {
                println!("untagged: {u}");
            }
            if let Some(d) = &item.deleted {
                println!("deleted: {d}");
            }
        }
        println!();
    }
    println!(
        "Total reclaimed space: {}",
        human_size(report.space_reclaimed as f64)
    );
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_table_matches_docker_layout() {
        let img: ImageSummary = serde_json::from_value(serde_json::json!({
            "Id": "sha256:1f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c5b6a7988",
            "RepoTags": ["busybox:latest", "localhost:5000/bb:v1"], "RepoDigests": [],
            "Created": 0, "Size": 4261000, "SharedSize": -1, "Labels": {}, "Containers": -1, "ParentId": ""
        }))
        .unwrap();
        let rows = image_rows(&[img], true, 120);
        let f = Formatter::new(DEFAULT_FORMAT).unwrap();
        let got = f.render_rows(Some(&images_header()), &rows).unwrap();
        assert!(
            got.starts_with("REPOSITORY          TAG       IMAGE ID       CREATED         SIZE\n")
        );
        assert!(
            got.contains("\nbusybox             latest    1f2e3d4c5b6a   2 minutes ago   4.26MB\n")
        );
        assert!(
            got.ends_with(
                "\nlocalhost:5000/bb   v1        1f2e3d4c5b6a   2 minutes ago   4.26MB\n"
            )
        );
    }

    #[test]
    fn untagged_images_show_none() {
        let img = ImageSummary {
            id: "sha256:abcdefabcdef0000".into(),
            ..Default::default()
        };
        let rows = image_rows(&[img], true, 0);
        let f = Formatter::new("{{.Repository}}:{{.Tag}} {{.ID}}").unwrap();
        assert_eq!(f.render(&rows[0]).unwrap(), "<none>:<none> abcdefabcdef");
    }
}
