//! Avatars: teachers and admins upload, map and delete; everyone in the org reads (a student's chat shows one).

use actix_multipart::Multipart;
use actix_web::{HttpResponse, web};
use bytes::BytesMut;
use futures_util::TryStreamExt;
use uuid::Uuid;

use crate::auth::{AuthUser, ClientIp, RequireRole, Staff};
use crate::avatar::error::AvatarError;
use crate::avatar::service::{AvatarService, NewAvatar};
use crate::avatar::views::{AvatarUploadForm, AvatarView, DeleteQuery, MappingUpdate};
use crate::error::ErrorBody;
use crate::http::{Json, file_label};
use crate::pagination::{Page, PageQuery};

/// Upload an avatar
///
/// Multipart fields `file` (a `.glb`, or a `.gltf` with its data embedded) and, optionally, `name`. The model is
/// parsed and checked before it is stored; its clips, morph targets and counts are recorded, and a cue → clip
/// mapping is guessed from the clip names.
#[utoipa::path(post, path = "/api/v1/avatars", tag = "avatars", operation_id = "upload_avatar",
    security(("bearer" = []), ("api_key" = [])), extensions(("x-min-role" = json!("teacher"))),
    request_body(content = AvatarUploadForm, content_type = "multipart/form-data"),
    responses((status = 201, description = "stored", body = AvatarView),
        (status = 413, description = "`payload_too_large`: over `avatars.max_upload_bytes`", body = ErrorBody),
        (status = 415, description = "`unsupported_type`: not a `.glb` or `.gltf` file", body = ErrorBody),
        (status = 422, description = "`invalid_model` (not valid glTF 2.0, or its data does not hold together), \
            `external_uri` (it points at a file or address outside itself), `model_too_large` (over a vertex, \
            texture, node or animation limit), `empty_file`, `field_too_long`, or `invalid_request` (no `file` \
            field, a broken multipart body)", body = ErrorBody)))]
pub async fn upload(
    avatars: web::Data<AvatarService>,
    caller: RequireRole<Staff>,
    multipart: Multipart,
) -> Result<HttpResponse, AvatarError> {
    let upload = receive(multipart, avatars.max_upload_bytes()).await?;
    Ok(HttpResponse::Created().json(avatars.upload(&caller.user, upload).await?))
}

/// Longest `name` field read; the service then checks the name's length in characters.
const NAME_FIELD_MAX: usize = 1024;

/// The `file` field in memory (the model is parsed whole anyway; the limit is small) and the `name` field.
async fn receive(mut multipart: Multipart, limit: u64) -> Result<NewAvatar, AvatarError> {
    let broken = |e: actix_multipart::MultipartError| AvatarError::Invalid(format!("malformed multipart body: {e}"));
    let (mut file, mut name) = (None, None);
    while let Some(mut field) = multipart.try_next().await.map_err(broken)? {
        match field.name() {
            Some("file") if file.is_none() => {
                let file_name = field
                    .content_disposition()
                    .and_then(|cd| cd.get_filename().map(|n| file_label(n, "avatar.glb")))
                    .unwrap_or_else(|| "avatar.glb".into());
                let mut bytes = BytesMut::new();
                while let Some(chunk) = field.try_next().await.map_err(broken)? {
                    if (bytes.len() + chunk.len()) as u64 > limit {
                        return Err(AvatarError::TooLarge(limit));
                    }
                    bytes.extend_from_slice(&chunk);
                }
                file = Some((file_name, bytes.freeze()));
            }
            Some("name") => {
                let mut text = Vec::new();
                while let Some(chunk) = field.try_next().await.map_err(broken)? {
                    if text.len() + chunk.len() > NAME_FIELD_MAX {
                        return Err(AvatarError::NameTooLong(120));
                    }
                    text.extend_from_slice(&chunk);
                }
                let text = String::from_utf8(text).map_err(|_| AvatarError::Invalid("name is not UTF-8".into()))?;
                name = Some(text);
            }
            // Other fields are drained and ignored, as a form may carry more than we read.
            _ => while field.try_next().await.map_err(broken)?.is_some() {},
        }
    }
    let (file_name, bytes) =
        file.ok_or_else(|| AvatarError::Invalid("the multipart field `file` is missing".into()))?;
    Ok(NewAvatar { bytes, file_name, name })
}

/// List avatars
///
/// The organisation's avatars by name, each with a fresh signed link. The first listing puts the project's
/// sample avatar in the organisation.
#[utoipa::path(get, path = "/api/v1/avatars", tag = "avatars", operation_id = "list_avatars",
    security(("bearer" = []), ("api_key" = [])), params(PageQuery), extensions(("x-min-role" = json!("student"))),
    responses((status = 200, description = "one page of avatars", body = Page<AvatarView>)))]
pub async fn list(
    avatars: web::Data<AvatarService>,
    caller: AuthUser,
    page: PageQuery,
) -> Result<HttpResponse, AvatarError> {
    Ok(HttpResponse::Ok().json(avatars.list(&caller, &page).await?))
}

/// Get an avatar
///
/// With a fresh signed `url` to the model file.
#[utoipa::path(get, path = "/api/v1/avatars/{id}", tag = "avatars", operation_id = "get_avatar",
    security(("bearer" = []), ("api_key" = [])), params(("id" = Uuid, Path)),
    extensions(("x-min-role" = json!("student"))),
    responses((status = 200, description = "the avatar", body = AvatarView),
        (status = 404, description = "`not_found`", body = ErrorBody)))]
pub async fn get(
    avatars: web::Data<AvatarService>,
    caller: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AvatarError> {
    Ok(HttpResponse::Ok().json(avatars.get(&caller, *id).await?))
}

/// Set an avatar's cue mapping
///
/// Which clip plays each cue; replaces the whole mapping (cues left out play nothing).
#[utoipa::path(put, path = "/api/v1/avatars/{id}/mapping", tag = "avatars", operation_id = "set_avatar_mapping",
    security(("bearer" = []), ("api_key" = [])), params(("id" = Uuid, Path)), request_body = MappingUpdate,
    extensions(("x-min-role" = json!("teacher"))),
    responses((status = 200, description = "the avatar with its new mapping", body = AvatarView),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 422, description = "`unknown_clip` (the model has no such clip), `unknown_cue`, or \
            `invalid_body`", body = ErrorBody)))]
pub async fn set_mapping(
    avatars: web::Data<AvatarService>,
    caller: RequireRole<Staff>,
    id: web::Path<Uuid>,
    body: Json<MappingUpdate>,
) -> Result<HttpResponse, AvatarError> {
    Ok(HttpResponse::Ok().json(avatars.set_mapping(&caller.user, *id, body.into_inner()).await?))
}

/// Delete an avatar
///
/// Refused while a tutor uses it, unless `force=true`, which unlinks it from those tutors first.
#[utoipa::path(delete, path = "/api/v1/avatars/{id}", tag = "avatars", operation_id = "delete_avatar",
    security(("bearer" = []), ("api_key" = [])), params(("id" = Uuid, Path), DeleteQuery),
    extensions(("x-min-role" = json!("teacher"))),
    responses((status = 204, description = "deleted"), (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`avatar_in_use`: a tutor uses it; the message names them", body = ErrorBody)))]
pub async fn delete(
    avatars: web::Data<AvatarService>,
    ip: ClientIp,
    caller: RequireRole<Staff>,
    id: web::Path<Uuid>,
    query: web::Query<DeleteQuery>,
) -> Result<HttpResponse, AvatarError> {
    avatars.delete(&caller.user, &ip, *id, query.force).await?;
    Ok(HttpResponse::NoContent().finish())
}
