//! The CSP transaction primitives, one variant each, with the versions
//! that define them. The name is the element inside `TransactionContent`.
//!
//! The primitive's content stays an [`Element`](crate::Element) so that
//! unknown children and vendor extensions survive a round trip; the typed
//! views in `imps-core` read the children each handler needs.

use crate::Version;

macro_rules! primitives {
    ($( $variant:ident = $name:literal, $since:ident; )*) => {
        /// Every transaction primitive of CSP 1.1-1.3.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum PrimitiveKind {
            $( $variant, )*
        }

        impl PrimitiveKind {
            /// All primitives, in declaration order.
            pub const ALL: &'static [PrimitiveKind] = &[ $( PrimitiveKind::$variant, )* ];

            /// The element name on the wire.
            pub fn name(self) -> &'static str {
                match self { $( PrimitiveKind::$variant => $name, )* }
            }

            /// The first version that defines this primitive.
            pub fn since(self) -> Version {
                match self { $( PrimitiveKind::$variant => Version::$since, )* }
            }

            /// Looks a primitive up by element name.
            pub fn from_name(name: &str) -> Option<PrimitiveKind> {
                match name {
                    $( $name => Some(PrimitiveKind::$variant), )*
                    // Older spellings seen in the field.
                    "WV-CSP-NSDiscovery-Request" => Some(PrimitiveKind::VersionDiscoveryRequest),
                    "WV-CSP-NSDiscovery-Response" => Some(PrimitiveKind::VersionDiscoveryResponse),
                    "BlockUser-Request" => Some(PrimitiveKind::BlockEntityRequest),
                    _ => None,
                }
            }
        }
    };
}

primitives! {
    Status = "Status", V1_1;
    LoginRequest = "Login-Request", V1_1;
    LoginResponse = "Login-Response", V1_1;
    LogoutRequest = "Logout-Request", V1_1;
    Disconnect = "Disconnect", V1_1;
    KeepAliveRequest = "KeepAlive-Request", V1_1;
    KeepAliveResponse = "KeepAlive-Response", V1_1;
    GetSPInfoRequest = "GetSPInfo-Request", V1_1;
    GetSPInfoResponse = "GetSPInfo-Response", V1_1;
    ClientCapabilityRequest = "ClientCapability-Request", V1_1;
    ClientCapabilityResponse = "ClientCapability-Response", V1_1;
    ServiceRequest = "Service-Request", V1_1;
    ServiceResponse = "Service-Response", V1_1;
    PollingRequest = "Polling-Request", V1_1;
    VersionDiscoveryRequest = "WV-CSP-VersionDiscovery-Request", V1_2;
    VersionDiscoveryResponse = "WV-CSP-VersionDiscovery-Response", V1_2;
    GetSegmentRequest = "GetSegment-Request", V1_3;
    GetSegmentResponse = "GetSegment-Response", V1_3;
    DropSegmentRequest = "DropSegment-Request", V1_3;
    ExtendedRequest = "Extended-Request", V1_2;
    ExtendedResponse = "Extended-Response", V1_2;
    VerifyIdRequest = "VerifyID-Request", V1_2;
    GetMapRequest = "GetMap-Request", V1_3;
    GetMapResponse = "GetMap-Response", V1_3;
    SubscribePresenceRequest = "SubscribePresence-Request", V1_1;
    UnsubscribePresenceRequest = "UnsubscribePresence-Request", V1_1;
    GetPresenceRequest = "GetPresence-Request", V1_1;
    GetPresenceResponse = "GetPresence-Response", V1_1;
    PresenceNotificationRequest = "PresenceNotification-Request", V1_1;
    UpdatePresenceRequest = "UpdatePresence-Request", V1_1;
    GetWatcherListRequest = "GetWatcherList-Request", V1_1;
    GetWatcherListResponse = "GetWatcherList-Response", V1_1;
    PresenceAuthRequest = "PresenceAuth-Request", V1_1;
    PresenceAuthUser = "PresenceAuth-User", V1_1;
    CancelAuthRequest = "CancelAuth-Request", V1_1;
    GetReactiveAuthStatusRequest = "GetReactiveAuthStatus-Request", V1_2;
    GetReactiveAuthStatusResponse = "GetReactiveAuthStatus-Response", V1_2;
    CreateAttributeListRequest = "CreateAttributeList-Request", V1_1;
    DeleteAttributeListRequest = "DeleteAttributeList-Request", V1_1;
    GetAttributeListRequest = "GetAttributeList-Request", V1_1;
    GetAttributeListResponse = "GetAttributeList-Response", V1_1;
    GetListRequest = "GetList-Request", V1_1;
    GetListResponse = "GetList-Response", V1_1;
    CreateListRequest = "CreateList-Request", V1_1;
    CreateListResponse = "CreateList-Response", V1_3;
    DeleteListRequest = "DeleteList-Request", V1_1;
    ListManageRequest = "ListManage-Request", V1_1;
    ListManageResponse = "ListManage-Response", V1_1;
    SendMessageRequest = "SendMessage-Request", V1_1;
    SendMessageResponse = "SendMessage-Response", V1_1;
    NewMessage = "NewMessage", V1_1;
    MessageDelivered = "MessageDelivered", V1_1;
    MessageNotification = "MessageNotification", V1_1;
    GetMessageRequest = "GetMessage-Request", V1_1;
    GetMessageResponse = "GetMessage-Response", V1_1;
    GetMessageListRequest = "GetMessageList-Request", V1_1;
    GetMessageListResponse = "GetMessageList-Response", V1_1;
    RejectMessageRequest = "RejectMessage-Request", V1_1;
    SetDeliveryMethodRequest = "SetDeliveryMethod-Request", V1_1;
    DeliveryReportRequest = "DeliveryReport-Request", V1_1;
    ForwardMessageRequest = "ForwardMessage-Request", V1_1;
    ForwardMessageResponse = "ForwardMessage-Response", V1_3;
    ExtendConversationRequest = "ExtendConversation-Request", V1_3;
    ExtendConversationResponse = "ExtendConversation-Response", V1_3;
    GetBlockedListRequest = "GetBlockedList-Request", V1_1;
    GetBlockedListResponse = "GetBlockedList-Response", V1_1;
    BlockEntityRequest = "BlockEntity-Request", V1_1;
    CreateGroupRequest = "CreateGroup-Request", V1_1;
    DeleteGroupRequest = "DeleteGroup-Request", V1_1;
    JoinGroupRequest = "JoinGroup-Request", V1_1;
    JoinGroupResponse = "JoinGroup-Response", V1_1;
    LeaveGroupRequest = "LeaveGroup-Request", V1_1;
    LeaveGroupResponse = "LeaveGroup-Response", V1_1;
    GetGroupMembersRequest = "GetGroupMembers-Request", V1_1;
    GetGroupMembersResponse = "GetGroupMembers-Response", V1_1;
    GetJoinedUsersRequest = "GetJoinedUsers-Request", V1_2;
    GetJoinedUsersResponse = "GetJoinedUsers-Response", V1_2;
    AddGroupMembersRequest = "AddGroupMembers-Request", V1_1;
    RemoveGroupMembersRequest = "RemoveGroupMembers-Request", V1_1;
    MemberAccessRequest = "MemberAccess-Request", V1_1;
    GetGroupPropsRequest = "GetGroupProps-Request", V1_1;
    GetGroupPropsResponse = "GetGroupProps-Response", V1_1;
    SetGroupPropsRequest = "SetGroupProps-Request", V1_1;
    RejectListRequest = "RejectList-Request", V1_1;
    RejectListResponse = "RejectList-Response", V1_1;
    SubscribeGroupNoticeRequest = "SubscribeGroupNotice-Request", V1_1;
    SubscribeGroupNoticeResponse = "SubscribeGroupNotice-Response", V1_1;
    GroupChangeNotice = "GroupChangeNotice", V1_1;
    InviteRequest = "Invite-Request", V1_1;
    InviteResponse = "Invite-Response", V1_1;
    InviteUserRequest = "InviteUser-Request", V1_1;
    InviteUserResponse = "InviteUser-Response", V1_1;
    CancelInviteRequest = "CancelInvite-Request", V1_1;
    CancelInviteUserRequest = "CancelInviteUser-Request", V1_1;
    SearchRequest = "Search-Request", V1_1;
    SearchResponse = "Search-Response", V1_1;
    StopSearchRequest = "StopSearch-Request", V1_1;
    SystemMessageRequest = "SystemMessage-Request", V1_3;
    SystemMessageUser = "SystemMessage-User", V1_3;
    GetPublicProfileRequest = "GetPublicProfile-Request", V1_3;
    GetPublicProfileResponse = "GetPublicProfile-Response", V1_3;
    UpdatePublicProfileRequest = "UpdatePublicProfile-Request", V1_3;
    SubscribeNotificationRequest = "SubscribeNotification-Request", V1_3;
    UnsubscribeNotificationRequest = "UnsubscribeNotification-Request", V1_3;
    NotificationRequest = "Notification-Request", V1_3;
}

impl PrimitiveKind {
    /// Primitives a client may send before it has a session.
    pub fn allowed_without_session(self) -> bool {
        matches!(
            self,
            PrimitiveKind::LoginRequest
                | PrimitiveKind::GetSPInfoRequest
                | PrimitiveKind::VersionDiscoveryRequest
        )
    }
}
