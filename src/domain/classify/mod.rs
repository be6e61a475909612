//! 定级: severity classification rules. Being written.
