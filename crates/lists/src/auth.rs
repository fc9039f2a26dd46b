//! Who may do what: the whole role matrix in one function.
//!
//! | action                          | admin | list_manager        | analyst | hoster |
//! |---------------------------------|-------|---------------------|---------|--------|
//! | check hashes / images           | yes   | yes                 | yes     | yes    |
//! | see lists' metadata, versions   | all   | its organisation's  | all     | no     |
//! | create a list                   | yes   | for its organisation| no      | no     |
//! | import into / change a list     | yes   | its organisation's  | no      | no     |
//! | export a list's entries         | yes   | its organisation's  | no      | no     |
//! | organisations, keys, audit log, metrics | yes | no           | no      | no     |
//!
//! Notice and takedown:
//!
//! | action                                   | admin | analyst | reporter | others |
//! |------------------------------------------|-------|---------|----------|--------|
//! | submit reports over the API (bulk)       | yes   | yes     | yes      | no     |
//! | read the outcome of its own reports      | yes   | yes     | yes      | no     |
//! | queue, cases, verdicts, attribution      | yes   | yes     | no       | no     |
//! | hosters register, attribution data       | yes   | yes     | no       | no     |
//!
//! The public report form needs no key and can only create reports.
//! A reporter key may check hashes like every key, but reads nothing else.
//!
//! A hoster can only ever check: no action returns entries, list names or list counts to it.
//! Check answers name the matching list (so the hoster knows the category and version), but
//! never the listed hash.

use crate::model::Role;
use serde::Serialize;

/// The caller of an API request, as established by its key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Principal {
    /// The key's public id (or `cli` for the command line).
    pub key_id: String,
    /// The key's organisation.
    pub org_id: i64,
    /// The key's role.
    pub role: Role,
}

/// Something a principal may try to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Check hashes or an image.
    Check,
    /// Enumerate lists (the answer is filtered by [`Action::ReadList`]).
    ListLists,
    /// Read one list's metadata and version history.
    ReadList {
        /// The list's owner organisation.
        owner: i64,
    },
    /// Create a list owned by `owner`.
    CreateList {
        /// The new list's owner organisation.
        owner: i64,
    },
    /// Import into, or otherwise change, a list.
    WriteList {
        /// The list's owner organisation.
        owner: i64,
    },
    /// Read a list's entries.
    ExportList {
        /// The list's owner organisation.
        owner: i64,
    },
    /// Manage organisations and keys, read the audit log and metrics.
    Administer,
    /// Submit reports of URLs over the API.
    SubmitReports,
    /// Work the notice-and-takedown cases: queue, case pages, verdicts, attribution, the
    /// hosters register.
    WorkCases,
    /// Answer the notices sent to the caller's own organisation (the hoster portal): confirm
    /// removal, say it is not the host, dispute.
    AnswerNotices,
}

impl Principal {
    /// Whether this principal may do `action`.
    pub fn can(&self, action: Action) -> bool {
        use Action::*;
        use Role::*;
        match (self.role, action) {
            (_, Check) => true,
            (Admin, _) => true,
            (Hoster, AnswerNotices) => true,
            (Hoster, _) => false,
            (Reporter | Analyst | ListManager, AnswerNotices) => false,
            (Reporter, SubmitReports) => true,
            (Reporter, _) => false,
            (Analyst, ListLists | ReadList { .. } | SubmitReports | WorkCases) => true,
            (Analyst, _) => false,
            (ListManager, ListLists) => true,
            (
                ListManager,
                ReadList { owner }
                | CreateList { owner }
                | WriteList { owner }
                | ExportList { owner },
            ) => owner == self.org_id,
            (ListManager, Administer | SubmitReports | WorkCases) => false,
        }
    }

    /// `Ok(())` if allowed, otherwise [`crate::Error::Forbidden`].
    pub fn require(&self, action: Action) -> Result<(), crate::Error> {
        if self.can(action) {
            Ok(())
        } else {
            Err(crate::Error::Forbidden(format!(
                "a {} key may not do this",
                self.role
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(role: Role) -> Principal {
        Principal {
            key_id: "k".into(),
            org_id: 1,
            role,
        }
    }

    #[test]
    fn hosters_only_check() {
        let h = p(Role::Hoster);
        assert!(h.can(Action::Check));
        for a in [
            Action::ListLists,
            Action::ReadList { owner: 1 },
            Action::CreateList { owner: 1 },
            Action::WriteList { owner: 1 },
            Action::ExportList { owner: 1 },
            Action::Administer,
            Action::SubmitReports,
            Action::WorkCases,
        ] {
            assert!(!h.can(a), "{a:?}");
        }
        assert!(h.can(Action::AnswerNotices));
    }

    #[test]
    fn reporters_only_submit() {
        let r = p(Role::Reporter);
        assert!(r.can(Action::SubmitReports));
        assert!(r.can(Action::Check));
        for a in [
            Action::WorkCases,
            Action::ListLists,
            Action::ReadList { owner: 1 },
            Action::ExportList { owner: 1 },
            Action::Administer,
        ] {
            assert!(!r.can(a), "{a:?}");
        }
        assert!(p(Role::Analyst).can(Action::WorkCases));
        assert!(p(Role::Analyst).can(Action::SubmitReports));
        assert!(!p(Role::ListManager).can(Action::WorkCases));
        assert!(p(Role::Admin).can(Action::WorkCases));
        for role in [Role::Reporter, Role::Analyst, Role::ListManager] {
            assert!(!p(role).can(Action::AnswerNotices), "{role:?}");
        }
    }

    #[test]
    fn list_managers_stay_in_their_organisation() {
        let m = p(Role::ListManager);
        assert!(m.can(Action::ExportList { owner: 1 }));
        assert!(!m.can(Action::ExportList { owner: 2 }));
        assert!(!m.can(Action::ReadList { owner: 2 }));
        assert!(!m.can(Action::CreateList { owner: 2 }));
        assert!(!m.can(Action::Administer));
        let a = p(Role::Analyst);
        assert!(a.can(Action::ReadList { owner: 2 }));
        assert!(!a.can(Action::ExportList { owner: 1 }));
        assert!(!a.can(Action::WriteList { owner: 1 }));
        assert!(p(Role::Admin).can(Action::ExportList { owner: 7 }));
    }
}
